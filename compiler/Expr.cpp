// Evaluation of schedule expressions.
#include "compiler/Expr.h"
#include "compiler/Diagnostics.h"
#include "compiler/Error.h"

#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringExtras.h"

#include <cmath>

namespace rysc {

const Json *lookupPath(const Json &Object, llvm::StringRef Path) {
  const Json *Current = &Object;
  llvm::SmallVector<llvm::StringRef, 4> Parts;
  Path.split(Parts, '.');
  for (llvm::StringRef Part : Parts) {
    if (!Current->is_object())
      return nullptr;
    auto It = Current->find(Part.str());
    if (It == Current->end())
      return nullptr;
    Current = &*It;
  }
  return Current;
}

namespace {

std::string describe(const Json &Value) { return Value.dump(); }

llvm::Expected<int64_t> asInteger(const Json &Value, llvm::StringRef Operation) {
  if (Value.is_number_integer())
    return Value.get<int64_t>();
  if (Value.is_number_float()) {
    double D = Value.get<double>();
    if (D == static_cast<double>(static_cast<int64_t>(D)))
      return static_cast<int64_t>(D);
  }
  return plainError("'" + Operation + "' needs integers, got " + describe(Value));
}

llvm::Expected<bool> asBool(const Json &Value) {
  if (Value.is_boolean())
    return Value.get<bool>();
  if (Value.is_null())
    return false;
  if (Value.is_number_integer())
    return Value.get<int64_t>() != 0;
  return plainError("expected a boolean, got " + describe(Value));
}

bool isNumber(const Json &Value) { return Value.is_number() && !Value.is_boolean(); }

llvm::Expected<Json> floatArithmetic(llvm::StringRef Op, double L, double R) {
  if (Op == "%")
    return plainError("'%' needs integers, got " + Json(L).dump() + " and " + Json(R).dump());
  if (Op == "/" && R == 0)
    return plainError("'/' by zero");
  if (Op == "+")
    return Json(L + R);
  if (Op == "-")
    return Json(L - R);
  if (Op == "*")
    return Json(L * R);
  return Json(L / R);
}

llvm::Expected<Json> arithmetic(llvm::StringRef Op, const Json &Left, const Json &Right) {
  if ((Left.is_number_float() || Right.is_number_float()) && isNumber(Left) && isNumber(Right))
    return floatArithmetic(Op, Left.get<double>(), Right.get<double>());
  auto L = asInteger(Left, Op);
  if (!L)
    return L.takeError();
  auto R = asInteger(Right, Op);
  if (!R)
    return R.takeError();
  if ((Op == "/" || Op == "%") && *R == 0)
    return plainError("'" + Op + "' by zero (left operand " + llvm::Twine(*L) + ")");
  if (Op == "+")
    return Json(*L + *R);
  if (Op == "-")
    return Json(*L - *R);
  if (Op == "*")
    return Json(*L * *R);
  if (Op == "/") {
    // Integer division rounds toward negative infinity, like Python's //.
    int64_t Quotient = *L / *R;
    if ((*L % *R != 0) && ((*L < 0) != (*R < 0)))
      --Quotient;
    return Json(Quotient);
  }
  // Python's modulo: the result takes the sign of the divisor, as in the
  // transformers formulas that profiles transcribe.
  int64_t Mod = *L % *R;
  if (Mod != 0 && ((Mod < 0) != (*R < 0)))
    Mod += *R;
  return Json(Mod);
}

llvm::Expected<Json> compare(llvm::StringRef Op, const Json &Left, const Json &Right) {
  if (Op == "==")
    return Json(Left == Right);
  if (Op == "!=")
    return Json(Left != Right);
  if (Op == "in") {
    if (Right.is_null())
      return Json(false);
    if (Right.is_array())
      return Json(std::find(Right.begin(), Right.end(), Left) != Right.end());
    if (Right.is_string() && Left.is_string())
      return Json(Right.get<std::string>().find(Left.get<std::string>()) != std::string::npos);
    return plainError("'in' needs a list on its right, got " + describe(Right));
  }
  if ((Left.is_number_float() || Right.is_number_float()) && isNumber(Left) && isNumber(Right)) {
    double L = Left.get<double>(), R = Right.get<double>();
    if (Op == "<")
      return Json(L < R);
    if (Op == "<=")
      return Json(L <= R);
    if (Op == ">")
      return Json(L > R);
    return Json(L >= R);
  }
  auto L = asInteger(Left, Op);
  if (!L)
    return L.takeError();
  auto R = asInteger(Right, Op);
  if (!R)
    return R.takeError();
  if (Op == "<")
    return Json(*L < *R);
  if (Op == "<=")
    return Json(*L <= *R);
  if (Op == ">")
    return Json(*L > *R);
  return Json(*L >= *R);
}

llvm::Expected<Json> evaluateBinary(const ast::Expr &E, const EvalContext &Context) {
  auto Left = evaluate(*E.Operands[0], Context);
  if (!Left)
    return Left.takeError();

  // && and || short-circuit, so `x != null && i < x` is safe.
  if (E.Text == "&&" || E.Text == "||") {
    auto L = asBool(*Left);
    if (!L)
      return L.takeError();
    if ((E.Text == "&&") != *L)
      return Json(*L);
    auto Right = evaluate(*E.Operands[1], Context);
    if (!Right)
      return Right.takeError();
    auto R = asBool(*Right);
    if (!R)
      return R.takeError();
    return Json(*R);
  }

  auto Right = evaluate(*E.Operands[1], Context);
  if (!Right)
    return Right.takeError();
  if (E.Text == "+" || E.Text == "-" || E.Text == "*" || E.Text == "/" || E.Text == "%")
    return arithmetic(E.Text, *Left, *Right);
  return compare(E.Text, *Left, *Right);
}

llvm::Expected<Json> evaluateIndex(const ast::Expr &E, const EvalContext &Context) {
  auto Base = evaluate(*E.Operands[0], Context);
  if (!Base)
    return Base.takeError();
  auto IndexValue = evaluate(*E.Operands[1], Context);
  if (!IndexValue)
    return IndexValue.takeError();
  auto Index = asInteger(*IndexValue, "[]");
  if (!Index)
    return Index.takeError();
  int64_t Size = Base->is_string() ? static_cast<int64_t>(Base->get<std::string>().size())
                 : Base->is_array() ? static_cast<int64_t>(Base->size())
                                    : -1;
  if (Size < 0)
    return plainError("cannot index " + describe(*Base));
  if (*Index < 0 || *Index >= Size)
    return plainError("index " + llvm::Twine(*Index) + " is out of range for " + describe(*Base));
  if (Base->is_string())
    return Json(std::string(1, Base->get<std::string>()[*Index]));
  return (*Base)[*Index];
}

llvm::Expected<Json> evaluateCall(const ast::Expr &E, const EvalContext &Context) {
  llvm::SmallVector<Json, 2> Arguments;
  for (const ast::ExprPtr &Operand : E.Operands) {
    auto Value = evaluate(*Operand, Context);
    if (!Value)
      return Value.takeError();
    Arguments.push_back(std::move(*Value));
  }
  if (E.Text == "len" && Arguments.size() == 1) {
    if (Arguments[0].is_string())
      return Json(static_cast<int64_t>(Arguments[0].get<std::string>().size()));
    if (Arguments[0].is_array())
      return Json(static_cast<int64_t>(Arguments[0].size()));
    return plainError("len() needs a list or a string, got " + describe(Arguments[0]));
  }
  if (E.Text == "is_null" && Arguments.size() == 1)
    return Json(Arguments[0].is_null());
  if (E.Text == "is_string" && Arguments.size() == 1)
    return Json(Arguments[0].is_string());
  if (E.Text == "is_number" && Arguments.size() == 1)
    return Json(isNumber(Arguments[0]));
  if (E.Text == "is_list" && Arguments.size() == 1)
    return Json(Arguments[0].is_array());
  if ((E.Text == "float" || E.Text == "sqrt") && Arguments.size() == 1) {
    if (!isNumber(Arguments[0]))
      return plainError(E.Text + "() needs a number, got " + describe(Arguments[0]));
    double Value = Arguments[0].get<double>();
    if (E.Text == "float")
      return Json(Value);
    if (Value < 0)
      return plainError("sqrt() of a negative number, " + describe(Arguments[0]));
    return Json(std::sqrt(Value));
  }
  static const std::vector<std::string> Known = {"len",       "is_null", "is_string", "is_number",
                                                 "is_list",   "float",   "sqrt"};
  return plainError("unknown function '" + E.Text + "' with " + llvm::Twine(Arguments.size()) +
                    " argument(s)" + didYouMean(E.Text, Known) +
                    "; known: len(x), is_null(x), is_string(x), is_number(x), is_list(x), "
                    "float(x), sqrt(x)");
}

} // namespace

llvm::Expected<Json> evaluate(const ast::Expr &E, const EvalContext &Context) {
  switch (E.Kind) {
  case ast::ExprKind::Int:
    return Json(E.IntValue);
  case ast::ExprKind::Float:
    return Json(E.FloatValue);
  case ast::ExprKind::String:
    return Json(E.Text);
  case ast::ExprKind::Bool:
    return Json(E.BoolValue);
  case ast::ExprKind::Null:
    return Json(nullptr);
  case ast::ExprKind::Name: {
    if (E.Text == "i")
      return Json(Context.LayerIndex);
    if (E.Text == "n")
      return Json(Context.LayerCount);
    auto Override = Context.Overrides.find(E.Text);
    if (Override != Context.Overrides.end())
      return Override->second;
    const Json *Value = Context.Config ? lookupPath(*Context.Config, E.Text) : nullptr;
    return Value ? *Value : Json(nullptr);
  }
  case ast::ExprKind::Call:
    return evaluateCall(E, Context);
  case ast::ExprKind::Index:
    return evaluateIndex(E, Context);
  case ast::ExprKind::Unary: {
    auto Operand = evaluate(*E.Operands[0], Context);
    if (!Operand)
      return Operand.takeError();
    if (E.Text == "!") {
      auto B = asBool(*Operand);
      if (!B)
        return B.takeError();
      return Json(!*B);
    }
    if (Operand->is_number_float())
      return Json(-Operand->get<double>());
    auto I = asInteger(*Operand, "-");
    if (!I)
      return I.takeError();
    return Json(-*I);
  }
  case ast::ExprKind::Binary:
    return evaluateBinary(E, Context);
  case ast::ExprKind::Conditional: {
    auto Condition = evaluate(*E.Operands[0], Context);
    if (!Condition)
      return Condition.takeError();
    auto Taken = asBool(*Condition);
    if (!Taken)
      return Taken.takeError();
    return evaluate(*E.Operands[*Taken ? 1 : 2], Context);
  }
  }
  return Json(nullptr);
}

} // namespace rysc
