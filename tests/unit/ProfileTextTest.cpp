// Unit tests of the profile declaration text that `rysc profiles NAME` prints.
#include "compiler/ProfileText.h"

#include <gtest/gtest.h>

using namespace rysc;

namespace {

const char *const File = "# Family notes for the whole file.\n"
                         "#\n"
                         "# Second paragraph.\n"
                         "rys 1;\n"
                         "\n"
                         "profile first {\n"
                         "  layer_count n;\n"
                         "}\n"
                         "\n"
                         "# Notes on second.\n"
                         "  // and a second comment line\n"
                         "profile second extends first {\n"
                         "}\n"
                         "\n"
                         "profile third {\n"
                         "}\n";

/// Returns the declaration of \p Name in File with its comments.
std::string declarationOf(llvm::StringRef Name) {
  llvm::StringRef Buffer(File);
  size_t Start = Buffer.find("profile " + Name.str());
  size_t End = Buffer.find('}', Start) + 1;
  return declarationWithComments(Buffer, Buffer.data() + Start, Buffer.data() + End);
}

TEST(ProfileText, FirstProfileGetsFileComment) {
  EXPECT_EQ(declarationOf("first"), "# Family notes for the whole file.\n"
                                    "#\n"
                                    "# Second paragraph.\n"
                                    "profile first {\n"
                                    "  layer_count n;\n"
                                    "}\n");
}

TEST(ProfileText, CommentDirectlyAbove) {
  EXPECT_EQ(declarationOf("second"), "# Notes on second.\n"
                                     "  // and a second comment line\n"
                                     "profile second extends first {\n"
                                     "}\n");
}

TEST(ProfileText, LaterProfileWithoutComment) {
  EXPECT_EQ(declarationOf("third"), "profile third {\n}\n");
}

} // namespace
