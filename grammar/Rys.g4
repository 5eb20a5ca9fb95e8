// The grammar of .rys recipe files, version 1.
//
// A recipe is a list of statements. Layer statements (duplicate, drop) name
// source layers with half-open windows; field statements (remap, keep) say how
// per-layer config fields follow the layer map; expect statements are
// assertions checked at compile time; profile declarations describe a model
// family and are also how the embedded standard library is written.
//
// Keywords are reserved tokens, but a field name may still spell a keyword
// (see `name`), because config keys are chosen by model authors, not by us.

grammar Rys;

recipe
    : header? item* EOF
    ;

header
    : RYS version=INT SEMI
    ;

item
    : statement
    | profileDecl
    ;

statement
    : DUPLICATE window placement (TIMES count=INT)? SEMI     # duplicateStmt
    | DROP window SEMI                                       # dropStmt
    | REMAP PER_LAYER fieldSelection SEMI                    # remapStmt
    | KEEP fieldList SEMI                                    # keepStmt
    | EXPECT LAYERS count=INT SEMI                           # expectLayersStmt
    | EXPECT OUT LBRACK out=INT RBRACK ASSIGN SRC LBRACK src=INT RBRACK SEMI   # expectMapStmt
    | USE PROFILE name SEMI                                  # useProfileStmt
    | unknown=IDENT (~SEMI)* SEMI                            # unknownStmt
    ;

window
    : BLOCKS LBRACK begin=INT COLON end=INT RBRACK
    ;

placement
    : AFTER
    | BEFORE
    ;

fieldSelection
    : STAR
    | fieldList
    ;

fieldList
    : fieldPath (COMMA fieldPath)*
    ;

fieldPath
    : name (DOT name)*
    ;

// ---------------------------------------------------------------------------
// Profiles

profileDecl
    : PROFILE profileName=name (EXTENDS base=name)? LBRACE profileItem* RBRACE
    ;

profileItem
    : MATCH (MODEL_TYPE | GGUF_ARCH) stringList SEMI                     # matchItem
    | DECODER decoderPath (COMMA decoderPath)* SEMI                      # decoderItem
    | LAYER_COUNT fieldList SEMI                                         # layerCountItem
    | STACK stringList SEMI                                              # stackItem
    | FIELD fieldPath COLON fieldKind=name fieldOption* SEMI             # fieldItem
    | SCHEDULE fieldPath COLON scheduleKind=name (DEFAULT negative=MINUS? literal)?
          GENERATES target=fieldPath ASSIGN expr SEMI                    # scheduleItem
    | EXTRA_STACK stackName=name COLON placementKind=name
          (PREFIX prefix=STRING)? (COUNT countField=fieldPath)? SEMI     # extraStackItem
    | TENSORS WHEN fieldPath EQ value=literal
          (REQUIRE req=stringList)? (FORBID forb=stringList)? SEMI       # tensorFamilyItem
    | NOT_PER_LAYER fieldList SEMI                                       # notPerLayerItem
    | WARN message=STRING (WHEN expr)? SEMI                              # warnItem
    | DERIVE fieldPath ASSIGN expr SEMI                                  # deriveItem
    | PACKED_TENSOR stringList SEMI                                      # packedTensorItem
    | PINNED message=STRING WHEN expr SEMI                               # pinnedItem
    | MEANING fieldPath COLON meaningEntry (COMMA meaningEntry)* SEMI    # meaningItem
    | unknown=IDENT (~(SEMI | RBRACE))* SEMI                             # unknownProfileItem
    ;

decoderPath
    : ROOT
    | fieldPath
    ;

fieldOption
    : name
    ;

stringList
    : STRING (COMMA STRING)*
    ;

// One value of a per-layer field and what it means, e.g. true "a sliding-window layer".
meaningEntry
    : negative=MINUS? value=literal text=STRING
    ;

// ---------------------------------------------------------------------------
// Schedule expressions: evaluated once per layer, with `i` the layer index,
// `n` the layer count and every other name a field of the decoder config.

expr
    : cond=orExpr (QUESTION whenTrue=expr COLON whenFalse=expr)?
    ;

orExpr
    : andExpr (OR andExpr)*
    ;

andExpr
    : notExpr (AND notExpr)*
    ;

notExpr
    : NOT notExpr
    | compareExpr
    ;

compareExpr
    : left=addExpr (op=(EQ | NE | LT | LE | GT | GE | IN) right=addExpr)?
    ;

addExpr
    : mulExpr (op+=(PLUS | MINUS) mulExpr)*
    ;

mulExpr
    : unaryExpr (op+=(STAR | SLASH | PERCENT) unaryExpr)*
    ;

unaryExpr
    : MINUS unaryExpr
    | postfixExpr
    ;

postfixExpr
    : primary (LBRACK index=expr RBRACK)?
    ;

primary
    : literal                                    # literalPrimary
    | callee=name LPAREN (expr (COMMA expr)*)? RPAREN   # callPrimary
    | fieldPath                                  # namePrimary
    | LPAREN expr RPAREN                         # parenPrimary
    ;

literal
    : INT
    | FLOAT
    | STRING
    | TRUE_LIT
    | FALSE_LIT
    | NULL_LIT
    ;

// Every keyword is also accepted where a name is expected.
name
    : IDENT
    | RYS | DUPLICATE | DROP | BLOCKS | AFTER | BEFORE | TIMES | REMAP | PER_LAYER
    | KEEP | EXPECT | LAYERS | OUT | SRC | USE | PROFILE | EXTENDS | MATCH
    | MODEL_TYPE | DECODER | ROOT | LAYER_COUNT | STACK | FIELD | SCHEDULE
    | DEFAULT | GENERATES | EXTRA_STACK | PREFIX | COUNT | TENSORS | WHEN
    | REQUIRE | FORBID | NOT_PER_LAYER | IN | WARN | DERIVE | PACKED_TENSOR | GGUF_ARCH | PINNED
    | MEANING
    ;

// ---------------------------------------------------------------------------
// Tokens

RYS          : 'rys';
DUPLICATE    : 'duplicate';
DROP         : 'drop';
BLOCKS       : 'blocks';
AFTER        : 'after';
BEFORE       : 'before';
TIMES        : 'times';
REMAP        : 'remap';
PER_LAYER    : 'per_layer';
KEEP         : 'keep';
EXPECT       : 'expect';
LAYERS       : 'layers';
OUT          : 'out';
SRC          : 'src';
USE          : 'use';
PROFILE      : 'profile';
EXTENDS      : 'extends';
MATCH        : 'match';
MODEL_TYPE   : 'model_type';
GGUF_ARCH    : 'gguf_arch';
DECODER      : 'decoder';
ROOT         : 'root';
LAYER_COUNT  : 'layer_count';
STACK        : 'stack';
FIELD        : 'field';
SCHEDULE     : 'schedule';
DEFAULT      : 'default';
GENERATES    : 'generates';
EXTRA_STACK  : 'extra_stack';
PREFIX       : 'prefix';
COUNT        : 'count';
TENSORS      : 'tensors';
WHEN         : 'when';
REQUIRE      : 'require';
FORBID       : 'forbid';
NOT_PER_LAYER: 'not_per_layer';
IN           : 'in';
WARN         : 'warn';
DERIVE       : 'derive';
PACKED_TENSOR: 'packed_tensor';
PINNED       : 'pinned';
MEANING      : 'meaning';
TRUE_LIT     : 'true';
FALSE_LIT    : 'false';
NULL_LIT     : 'null';

SEMI     : ';';
COLON    : ':';
COMMA    : ',';
DOT      : '.';
LBRACK   : '[';
RBRACK   : ']';
LBRACE   : '{';
RBRACE   : '}';
LPAREN   : '(';
RPAREN   : ')';
STAR     : '*';
SLASH    : '/';
PERCENT  : '%';
PLUS     : '+';
MINUS    : '-';
QUESTION : '?';
EQ       : '==';
NE       : '!=';
LE       : '<=';
GE       : '>=';
LT       : '<';
GT       : '>';
AND      : '&&';
OR       : '||';
NOT      : '!';
ASSIGN   : '=';

FLOAT    : [0-9]+ '.' [0-9]+;
INT      : [0-9]+;
IDENT    : [A-Za-z_] [A-Za-z0-9_]*;
STRING   : '"' (~["\\\r\n] | '\\' ["\\nt])* '"';

LINE_COMMENT  : ('#' | '//') ~[\r\n]* -> channel(HIDDEN);
BLOCK_COMMENT : '/*' .*? '*/' -> channel(HIDDEN);

// Unclosed comments and strings become one token each, so the parser can
// report them as such instead of as a run of unexpected characters.
UNTERMINATED_COMMENT : '/*' .*? EOF;
UNTERMINATED_STRING  : '"' (~["\\\r\n] | '\\' ["\\nt])*;
WS            : [ \t\r\n]+ -> channel(HIDDEN);

// Anything else is one bad character, reported by the parser with its place.
BAD_CHAR : .;
