// Unit tests of byte-preserving config.json edits.
#include "backends/hf/ConfigRewrite.h"

#include <gtest/gtest.h>

using namespace rysc;

namespace {

ConfigEdit edit(const std::string &Path, const std::string &New, bool Added = false) {
  return {Path, Json(nullptr), Json::parse(New), Added, "test"};
}

TEST(ConfigRewrite, UntouchedBytesKept) {
  std::string Original = "{\n  \"big\": 1000000000000000019884624838656,\n  \"name\": "
                         "\"caf\\u00e9\",\n  \"eps\": 1e-06,\n  \"num_hidden_layers\": 4\n}\n";
  auto Text = hf::rewriteConfigText(Original, {edit("num_hidden_layers", "5")});
  ASSERT_TRUE(bool(Text));
  EXPECT_EQ(*Text, "{\n  \"big\": 1000000000000000019884624838656,\n  \"name\": "
                   "\"caf\\u00e9\",\n  \"eps\": 1e-06,\n  \"num_hidden_layers\": 5\n}\n");
}

TEST(ConfigRewrite, NestedListIndented) {
  std::string Original = "{\n  \"text_config\": {\n    \"layer_types\": [\n      \"a\"\n    ],\n"
                         "    \"n\": 1\n  }\n}\n";
  auto Text = hf::rewriteConfigText(Original, {edit("text_config.layer_types", R"(["a","b"])")});
  ASSERT_TRUE(bool(Text));
  EXPECT_EQ(*Text, "{\n  \"text_config\": {\n    \"layer_types\": [\n      \"a\",\n      \"b\"\n"
                   "    ],\n    \"n\": 1\n  }\n}\n");
}

TEST(ConfigRewrite, AddedKeyGoesLast) {
  std::string Original = "{\n  \"text_config\": {\n    \"n\": 1\n  },\n  \"x\": {}\n}\n";
  auto Text = hf::rewriteConfigText(
      Original, {edit("text_config.layer_types", R"(["a"])", true), edit("x.y", "2", true)});
  ASSERT_TRUE(bool(Text));
  EXPECT_EQ(*Text, "{\n  \"text_config\": {\n    \"n\": 1,\n    \"layer_types\": [\n      \"a\"\n"
                   "    ]\n  },\n  \"x\": {\n    \"y\": 2}\n}\n");
}

TEST(ConfigRewrite, KeysWithEscapesAndStringsWithBraces) {
  std::string Original = R"({"a": "}{", "b\"c": [1, {"d": "]"}], "e": 1})";
  auto Text = hf::rewriteConfigText(Original, {edit("e", "2")});
  ASSERT_TRUE(bool(Text));
  EXPECT_EQ(*Text, R"({"a": "}{", "b\"c": [1, {"d": "]"}], "e": 2})");
}

TEST(ConfigRewrite, MissingKeyIsAnError) {
  auto Text = hf::rewriteConfigText("{\"a\": 1}", {edit("b", "2")});
  ASSERT_FALSE(bool(Text));
  EXPECT_EQ(llvm::toString(Text.takeError()), "config.json has no key 'b'");
}

} // namespace
