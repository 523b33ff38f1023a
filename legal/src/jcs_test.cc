// RFC 8785 (JCS) canonicalization and strict I-JSON parsing against published vectors.
//
// Provenance of the embedded vectors (nothing below is computed by this code first):
//  - RFC 8785 itself, read from its source xmlv3/rfc8785.xml in github.com/cyberphone/
//    ietf-json-canon (commit 07415508cf16e4fd42eec774344a91cd5593be5e): the sample of
//    section 3.2.2, its canonical form (3.2.3) and UTF-8 bytes (3.2.4), the property sorting
//    test of 3.2.3, the string subtype example of Appendix E, and Table 1 of Appendix B.
//  - The JCS reference test data, github.com/cyberphone/json-canonicalization testdata/
//    input/<name> and output/<name>, at the commits named beside each case.
#include "holdfast/legal/jcs.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace holdfast::legal {
namespace {

using nlohmann::json;

// CanonicalText parses `input` strictly and returns its canonical form ("<error>" on
// failure, which never equals an expected output).
std::string CanonicalText(std::string_view input) {
  auto parsed = ParseStrictJson(input);
  if (!parsed.ok()) {
    ADD_FAILURE() << "ParseStrictJson failed: " << ErrorName(parsed.code()) << " "
                  << (parsed.error().detail ? parsed.error().detail : "");
    return "<error>";
  }
  auto canonical = Canonicalize(*parsed);
  if (!canonical.ok()) {
    ADD_FAILURE() << "Canonicalize failed: " << ErrorName(canonical.code());
    return "<error>";
  }
  return *canonical;
}

std::string FromHex(std::string_view hex) {
  std::string out;
  int nibbles = 0;
  unsigned acc = 0;
  for (const char c : hex) {
    if (c == ' ' || c == '\n') {
      continue;
    }
    const unsigned v = (c >= '0' && c <= '9')   ? static_cast<unsigned>(c - '0')
                       : (c >= 'a' && c <= 'f') ? static_cast<unsigned>(c - 'a' + 10)
                                                : static_cast<unsigned>(c - 'A' + 10);
    acc = (acc << 4) | v;
    if (++nibbles == 2) {
      out += static_cast<char>(acc);
      nibbles = 0;
      acc = 0;
    }
  }
  return out;
}

// --- RFC 8785 section 3.2 ---------------------------------------------------------------

// RFC 8785 section 3.2.2, the parsed sample.
constexpr std::string_view kRfcSample = R"({
    "numbers": [333333333.33333329, 1E30, 4.50,
                2e-3, 0.000000000000000000000000001],
    "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
    "literals": [null, true, false]
  })";

TEST(JcsRfc8785, Section3SampleCanonicalForm) {
  // Section 3.2.3 (the line wrap there is for display only). U+20AC is written raw.
  const std::string expected =
      "{\"literals\":[null,true,false],\"numbers\":[333333333.3333333,1e+30,4.5,0.002,1e-27],"
      "\"string\":\"\xE2\x82\xAC$\\u000f\\nA'B\\\"\\\\\\\\\\\"/\"}";
  EXPECT_EQ(CanonicalText(kRfcSample), expected);
  EXPECT_TRUE(IsCanonical(expected));
}

TEST(JcsRfc8785, Section3SampleUtf8Bytes) {
  // Section 3.2.4, "the following bytes, here shown in hexadecimal notation".
  const std::string expected = FromHex(R"(
      7b 22 6c 69 74 65 72 61 6c 73 22 3a 5b 6e 75 6c 6c 2c 74 72
      75 65 2c 66 61 6c 73 65 5d 2c 22 6e 75 6d 62 65 72 73 22 3a
      5b 33 33 33 33 33 33 33 33 33 2e 33 33 33 33 33 33 33 2c 31
      65 2b 33 30 2c 34 2e 35 2c 30 2e 30 30 32 2c 31 65 2d 32 37
      5d 2c 22 73 74 72 69 6e 67 22 3a 22 e2 82 ac 24 5c 75 30 30
      30 66 5c 6e 41 27 42 5c 22 5c 5c 5c 5c 5c 22 2f 22 7d)");
  ASSERT_EQ(expected.size(), 118u);
  EXPECT_EQ(CanonicalText(kRfcSample), expected);
}

TEST(JcsRfc8785, PropertySortingIsByUtf16CodeUnits) {
  // Section 3.2.3: "\ud83d\ude00" (U+1F600, UTF-8 F0 9F 98 80) sorts before "\ufb33" (UTF-8
  // EF AC B3) because its first UTF-16 code unit 0xD83D is below 0xFB33; sorting by UTF-8
  // bytes or code points would put it last.
  const std::string input = R"({
    "\u20ac": "Euro Sign",
    "\r": "Carriage Return",
    "\ufb33": "Hebrew Letter Dalet With Dagesh",
    "1": "One",
    "\ud83d\ude00": "Emoji: Grinning Face",
    "\u0080": "Control",
    "\u00f6": "Latin Small Letter O With Diaeresis"
  })";
  // "Expected argument order after sorting property strings".
  const std::vector<std::string> expected_order = {
      "Carriage Return",
      "One",
      "Control",
      "Latin Small Letter O With Diaeresis",
      "Euro Sign",
      "Emoji: Grinning Face",
      "Hebrew Letter Dalet With Dagesh",
  };
  const std::string canonical = CanonicalText(input);
  // ordered_json keeps members in document order, so it reads back the order we wrote.
  const auto reread = nlohmann::ordered_json::parse(canonical, nullptr, false);
  ASSERT_TRUE(reread.is_object()) << canonical;
  std::vector<std::string> order;
  for (const auto& [name, value] : reread.items()) {
    order.push_back(value.get<std::string>());
  }
  EXPECT_EQ(order, expected_order);
  EXPECT_TRUE(IsCanonical(canonical));
}

TEST(JcsRfc8785, StringSubtypeExample) {
  // Appendix E ("String Subtype Handling"): the object and its canonical form.
  EXPECT_EQ(CanonicalText(R"({
    "time": "2019-01-28T07:45:10Z",
    "big": "055",
    "val": 3.5
  })"),
            R"({"big":"055","time":"2019-01-28T07:45:10Z","val":3.5})");
}

// --- RFC 8785 Appendix B, Table 1 ------------------------------------------------------

struct NumberSample {
  uint64_t ieee754;
  const char* json;  // nullptr: the value must be refused
};

// Every row of Table 1, "ECMAScript-Compatible JSON Number Serialization Samples".
constexpr NumberSample kAppendixB[] = {
    {0x0000000000000000, "0"},                         // Zero
    {0x8000000000000000, "0"},                         // Minus zero
    {0x0000000000000001, "5e-324"},                    // Min pos number
    {0x8000000000000001, "-5e-324"},                   // Min neg number
    {0x7fefffffffffffff, "1.7976931348623157e+308"},   // Max pos number
    {0xffefffffffffffff, "-1.7976931348623157e+308"},  // Max neg number
    {0x4340000000000000, "9007199254740992"},          // Max pos int (1)
    {0xc340000000000000, "-9007199254740992"},         // Max neg int (1)
    {0x4430000000000000, "295147905179352830000"},     // ~2**68 (2)
    {0x7fffffffffffffff, nullptr},                     // NaN (3)
    {0x7ff0000000000000, nullptr},                     // Infinity (3)
    {0x44b52d02c7e14af5, "9.999999999999997e+22"},
    {0x44b52d02c7e14af6, "1e+23"},
    {0x44b52d02c7e14af7, "1.0000000000000001e+23"},
    {0x444b1ae4d6e2ef4e, "999999999999999700000"},
    {0x444b1ae4d6e2ef4f, "999999999999999900000"},
    {0x444b1ae4d6e2ef50, "1e+21"},
    {0x3eb0c6f7a0b5ed8c, "9.999999999999997e-7"},
    {0x3eb0c6f7a0b5ed8d, "0.000001"},
    {0x41b3de4355555553, "333333333.3333332"},
    {0x41b3de4355555554, "333333333.33333325"},
    {0x41b3de4355555555, "333333333.3333333"},
    {0x41b3de4355555556, "333333333.3333334"},
    {0x41b3de4355555557, "333333333.33333343"},
    {0xbecbf647612f3696, "-0.0000033333333333333333"},
    {0x43143ff3c1cb0959, "1424953923781206.2"},  // Round to even (4)
};

TEST(JcsRfc8785, AppendixBNumbers) {
  for (const NumberSample& s : kAppendixB) {
    SCOPED_TRACE(::testing::Message() << std::hex << s.ieee754);
    const double d = std::bit_cast<double>(s.ieee754);
    const auto canonical = Canonicalize(json(d));
    if (s.json == nullptr) {
      ASSERT_FALSE(canonical.ok());
      EXPECT_EQ(canonical.code(), ErrorCode::kInvalidArgument);
      continue;
    }
    ASSERT_TRUE(canonical.ok());
    EXPECT_EQ(*canonical, s.json);
    // The serialized form parses strictly back to the same double and is canonical.
    const auto reparsed = ParseStrictJson(s.json);
    ASSERT_TRUE(reparsed.ok());
    EXPECT_EQ(reparsed->get<double>(), d == 0 ? 0.0 : d);
    EXPECT_TRUE(IsCanonical(s.json));
  }
}

TEST(JcsNumbers, NonFiniteAndNonDoubleValuesAreRefused) {
  for (const double d :
       {std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity(),
        -std::numeric_limits<double>::infinity()}) {
    const auto c = Canonicalize(json::array({1, d}));
    ASSERT_FALSE(c.ok());
    EXPECT_EQ(c.code(), ErrorCode::kInvalidArgument);
  }
  // RFC 8785 section 3.1: numbers must be doubles; 2^53 + 1 would silently change.
  const auto big = Canonicalize(json(int64_t{9007199254740993}));
  ASSERT_FALSE(big.ok());
  EXPECT_EQ(big.code(), ErrorCode::kInvalidArgument);
  const auto max = Canonicalize(json(std::numeric_limits<uint64_t>::max()));
  ASSERT_FALSE(max.ok());
  EXPECT_EQ(max.code(), ErrorCode::kInvalidArgument);
}

TEST(JcsNumbers, IntegersAreWrittenAsDoubles) {
  EXPECT_EQ(*Canonicalize(json(int64_t{-9007199254740992})), "-9007199254740992");
  EXPECT_EQ(*Canonicalize(json(uint64_t{1} << 63)), "9223372036854776000");
  EXPECT_EQ(*Canonicalize(json(std::numeric_limits<int64_t>::min())), "-9223372036854776000");
  EXPECT_EQ(*Canonicalize(json(uint64_t{100000000000000000})), "100000000000000000");
  EXPECT_EQ(CanonicalText("[1.0, -0, -0.0, 0e10, 1e21, 1e20, 1E-7, 0.1e1, 12e-1]"),
            "[1,0,0,0,1e+21,100000000000000000000,1e-7,1,1.2]");
}

// --- cyberphone/json-canonicalization testdata -----------------------------------------

struct ReferenceCase {
  const char* name;
  std::string input;
  std::string output;
};

const std::vector<ReferenceCase>& ReferenceCases() {
  static const auto* cases = new std::vector<ReferenceCase>{
      // output/arrays.json is not in the stored copy we read; this expected value is the one
      // quoted for that vector by other JCS test suites, and follows from section 3.2.3.
      {"arrays.json (commit 72a2163b)",
       "[\n  56,\n  {\n    \"d\": true,\n    \"10\": null,\n"
       "    \"1\": [ ]\n  }\n]",
       R"([56,{"1":[],"10":null,"d":true}])"},
      // "ingnore" is spelled so upstream.
      {"french.json (commit b01b0235)",
       "{\n  \"peach\": \"This sorting order\",\n  \"p\xC3\xA9"
       "ch\xC3\xA9\": \"is wrong according to French\",\n  \"p\xC3\xAA"
       "che\": \"but canonicalization MUST\",\n  \"sin\":   \"ingnore locale\"\n}\n",
       "{\"peach\":\"This sorting order\",\"p\xC3\xA9"
       "ch\xC3\xA9\":\"is wrong according to French\",\"p\xC3\xAA"
       "che\":\"but canonicalization MUST\",\"sin\":\"ingnore locale\"}"},
      {"structures.json (commit 72a2163b)",
       "{\n  \"1\": {\"f\": {\"f\": \"hi\",\"F\": 5} ,\"\\n\": 56.0},\n  \"10\": { },\n"
       "  \"\": \"empty\",\n  \"a\": { },\n  \"111\": [ { } ],\n  \"A\": { }\n}",
       R"({"":"empty","1":{"\n":56,"f":{"F":5,"f":"hi"}},"10":{},"111":[{}],"A":{},"a":{}})"},
      // No Unicode normalization: U+1E0D U+0307 stay as they are.
      {"unicode.json (commit ff225671)", "{\n  \"Unnormalized Unicode\":\"\\u1e0d\\u0307\"\n}\n",
       "{\"Unnormalized Unicode\":\"\xE1\xB8\x8D\xCC\x87\"}"},
      {"values.json (commit 1e2733fc)",
       "{\n  \"numbers\": [1E30, 4.50, 333333333.33333329, 2e-3, 0.000000000000000000000000001],"
       "\n  \"escaping\": \"\\u20ac$\\u000F\\u000aA'\\u0042\\u0022\\u005c\\\\\\\"\\/\",\n"
       "  \"literals\": [null, true, false]\n}",
       "{\"escaping\":\"\xE2\x82\xAC$\\u000f\\nA'B\\\"\\\\\\\\\\\"/\",\"literals\":[null,true,"
       "false],\"numbers\":[1e+30,4.5,333333333.3333333,0.002,1e-27]}"},
      // U+0080 and U+007F are written raw; U+1F602 (surrogates D83D DE02) sorts before
      // U+FB33.
      {"weird.json (commit 77917fbd)",
       "{\n  \"\\u20ac\": \"Euro Sign\",\n  \"1\": \"One\",\n  \"\\u0080\": \"Control\\u007f\",\n"
       "  \"\\ud83d\\ude02\": \"Smiley\",\n"
       "  \"\\u00f6\": \"Latin Small Letter O With Diaeresis\",\n"
       "  \"\\ufb33\": \"Hebrew Letter Dalet With Dagesh\",\n"
       "  \"</script>\": \"Browser Challenge\"\n}\n",
       "{\"1\":\"One\",\"</script>\":\"Browser Challenge\",\"\xC2\x80\":\"Control\x7F\","
       "\"\xC3\xB6\":\"Latin Small Letter O With Diaeresis\",\"\xE2\x82\xAC\":\"Euro Sign\","
       "\"\xF0\x9F\x98\x82\":\"Smiley\",\"\xEF\xAC\xB3\":\"Hebrew Letter Dalet With Dagesh\"}"},
      // outhex/simpleString.txt gives the same bytes in hex; checked below.
      {"simpleString.json (commit 987e82e7)", "    \"this is a test string 1235\"",
       "\"this is a test string 1235\""},
  };
  return *cases;
}

TEST(JcsReference, InputsCanonicalizeToOutputs) {
  for (const ReferenceCase& c : ReferenceCases()) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(CanonicalText(c.input), c.output);
    EXPECT_TRUE(IsCanonical(c.output));
    EXPECT_EQ(IsCanonical(c.input), c.input == c.output);
    EXPECT_EQ(CanonicalText(c.output), c.output);  // idempotent
  }
}

TEST(JcsReference, SimpleStringHex) {
  // testdata/outhex/simpleString.txt (commit 987e82e7).
  const std::string expected = FromHex(
      "22 74 68 69 73 20 69 73 20 61 20 74 65 73 74 20 73 74 72 69 6E 67 20 31 32 33 35 22");
  EXPECT_EQ(CanonicalText("    \"this is a test string 1235\""), expected);
}

// --- String serialization details (RFC 8785 section 3.2.2.2) ---------------------------

TEST(JcsStrings, EscapesOnlyWhatJcsRequires) {
  // All of U+0000..U+001F, then '"', '\\', '/', U+007F and a few non-ASCII characters.
  std::string input = "\"";
  for (int c = 0; c < 0x20; ++c) {
    char buf[8];
    std::snprintf(buf, sizeof(buf), "\\u%04X", c);  // upper-case on input
    input += buf;
  }
  input += "\\\"\\\\\\/\\u007f\\u00e9\\u2028\\ud83d\\ude00\"";
  const std::string expected =
      "\"\\u0000\\u0001\\u0002\\u0003\\u0004\\u0005\\u0006\\u0007\\b\\t\\n\\u000b\\f\\r"
      "\\u000e\\u000f\\u0010\\u0011\\u0012\\u0013\\u0014\\u0015\\u0016\\u0017\\u0018\\u0019"
      "\\u001a\\u001b\\u001c\\u001d\\u001e\\u001f\\\"\\\\/\x7F\xC3\xA9\xE2\x80\xA8"
      "\xF0\x9F\x98\x80\"";
  EXPECT_EQ(CanonicalText(input), expected);
  EXPECT_TRUE(IsCanonical(expected));
}

TEST(JcsStrings, InvalidUtf8IsRefusedByCanonicalize) {
  for (const char* bad : {"\xFF", "a\xC0\xAF", "\xED\xA0\x80", "\xE2\x82", "\xF4\x90\x80\x80"}) {
    SCOPED_TRACE(bad);
    const auto as_value = Canonicalize(json(std::string(bad)));
    ASSERT_FALSE(as_value.ok());
    EXPECT_EQ(as_value.code(), ErrorCode::kInvalidArgument);
    json object = json::object();
    object[bad] = 1;
    const auto as_name = Canonicalize(object);
    ASSERT_FALSE(as_name.ok());
    EXPECT_EQ(as_name.code(), ErrorCode::kInvalidArgument);
  }
}

TEST(JcsCanonicalize, DepthLimit) {
  json deep = json::array();
  for (size_t i = 1; i < kMaxJsonDepth; ++i) {
    deep = json::array({std::move(deep)});
  }
  EXPECT_TRUE(Canonicalize(deep).ok());
  const auto too_deep = Canonicalize(json::object({{"a", deep}}));
  ASSERT_FALSE(too_deep.ok());
  EXPECT_EQ(too_deep.code(), ErrorCode::kOversized);
}

// --- Strict parsing ---------------------------------------------------------------------

struct Refusal {
  const char* why;
  std::string text;
  ErrorCode code;
};

std::string Nested(size_t depth) { return std::string(depth, '[') + std::string(depth, ']'); }

TEST(JcsStrictParse, RefusesWhatIJsonForbids) {
  const Refusal refusals[] = {
      {"duplicate member", R"({"a":1,"a":2})", ErrorCode::kMalformed},
      {"duplicate with the same value", R"({"a":1,"b":0,"a":1})", ErrorCode::kMalformed},
      {"duplicate nested in an object", R"({"x":{"k":true,"k":false}})", ErrorCode::kMalformed},
      {"duplicate nested in an array", R"([1,{"k":null,"k":null}])", ErrorCode::kMalformed},
      {"duplicate after unescaping", R"({"A":1,"\u0041":2})", ErrorCode::kMalformed},
      {"lone high surrogate", R"("\ud800")", ErrorCode::kMalformed},
      {"lone high surrogate before a letter", R"("\ud800\u0041")", ErrorCode::kMalformed},
      {"lone low surrogate", R"("\udc00")", ErrorCode::kMalformed},
      {"reversed surrogates", R"("\ude00\ud83d")", ErrorCode::kMalformed},
      {"lone surrogate in a name", R"({"\udead":1})", ErrorCode::kMalformed},
      {"invalid UTF-8 byte", "\"\xFF\"", ErrorCode::kMalformed},
      {"overlong UTF-8", "\"\xC0\xAF\"", ErrorCode::kMalformed},
      {"UTF-8 encoded surrogate", "\"\xED\xA0\x80\"", ErrorCode::kMalformed},
      {"truncated UTF-8", "\"\xE2\x82\"", ErrorCode::kMalformed},
      {"above U+10FFFF", "\"\xF4\x90\x80\x80\"", ErrorCode::kMalformed},
      {"invalid UTF-8 outside strings", "[1]\xFF", ErrorCode::kMalformed},
      {"2^53 + 1", "9007199254740993", ErrorCode::kMalformed},
      {"-(2^53 + 1)", "-9007199254740993", ErrorCode::kMalformed},
      {"2^53 + 1 in an array", "[9007199254740993]", ErrorCode::kMalformed},
      {"2^64 - 1", "18446744073709551615", ErrorCode::kMalformed},
      {"2^68 + 1", "295147905179352825857", ErrorCode::kMalformed},
      {"overflow", "1e400", ErrorCode::kMalformed},
      {"negative overflow", "-1e400", ErrorCode::kMalformed},
      {"overflowing integer", "1" + std::string(400, '0'), ErrorCode::kMalformed},
      {"33 nested arrays", Nested(kMaxJsonDepth + 1), ErrorCode::kOversized},
      {"trailing value", "1 2", ErrorCode::kMalformed},
      {"trailing bracket", "[1]]", ErrorCode::kMalformed},
      {"two objects", "{}{}", ErrorCode::kMalformed},
      {"trailing garbage", "{\"a\":1} x", ErrorCode::kMalformed},
      // nlohmann's lexer reads NUL as the end of input.
      {"trailing NUL", std::string("null\0", 5), ErrorCode::kMalformed},
      {"NUL then garbage", std::string("[1]\0garbage", 12), ErrorCode::kMalformed},
      {"raw NUL in a string", std::string("\"a\0b\"", 5), ErrorCode::kMalformed},
      {"byte order mark", "\xEF\xBB\xBF{}", ErrorCode::kMalformed},
      {"empty", "", ErrorCode::kMalformed},
      {"white space only", " \n", ErrorCode::kMalformed},
      {"truncated", "[1,2", ErrorCode::kMalformed},
      {"trailing comma", "[1,]", ErrorCode::kMalformed},
      {"single quotes", "{'a':1}", ErrorCode::kMalformed},
      {"NaN", "NaN", ErrorCode::kMalformed},
      {"Infinity", "[Infinity]", ErrorCode::kMalformed},
      {"leading zero", "01", ErrorCode::kMalformed},
      {"comment", "/**/1", ErrorCode::kMalformed},
      {"raw control character", "\"a\tb\"", ErrorCode::kMalformed},
  };
  for (const Refusal& r : refusals) {
    SCOPED_TRACE(r.why);
    const auto parsed = ParseStrictJson(r.text);
    ASSERT_FALSE(parsed.ok());
    EXPECT_EQ(parsed.code(), r.code) << (parsed.error().detail ? parsed.error().detail : "");
    EXPECT_NE(parsed.error().detail, nullptr);
    EXPECT_FALSE(IsCanonical(r.text));
  }
}

TEST(JcsStrictParse, DetailsNameTheReason) {
  const auto detail = [](std::string_view text) {
    const auto parsed = ParseStrictJson(text);
    return parsed.ok() ? std::string("<ok>") : std::string(parsed.error().detail);
  };
  EXPECT_EQ(detail(R"({"a":{"b":1,"b":2}})"), "json duplicate member name");
  EXPECT_EQ(detail(R"(["\ud800"])"), "json invalid unicode");
  EXPECT_EQ(detail("\"\xC3\""), "json invalid unicode");
  EXPECT_EQ(detail("[9007199254740993]"), "json integer precision");
  EXPECT_EQ(detail("[1e400]"), "json number overflow");
  EXPECT_EQ(detail("[] []"), "json trailing data");
  EXPECT_EQ(detail("\xEF\xBB\xBF[]"), "json byte order mark");
  EXPECT_EQ(detail("[}"), "json syntax");
  EXPECT_EQ(detail("\"a surrogate"), "json syntax");  // unterminated, quoted in the message
  EXPECT_EQ(detail(Nested(kMaxJsonDepth + 1)), "json depth");
}

TEST(JcsStrictParse, DepthLimitCountsObjectsAndArrays) {
  EXPECT_TRUE(ParseStrictJson(Nested(kMaxJsonDepth)).ok());
  std::string mixed;
  for (size_t i = 0; i < kMaxJsonDepth; ++i) {
    mixed += i % 2 == 0 ? "{\"k\":" : "[";
  }
  std::string closing;
  for (size_t i = kMaxJsonDepth; i-- > 0;) {
    closing += i % 2 == 0 ? "}" : "]";
  }
  EXPECT_TRUE(ParseStrictJson(mixed + "1" + closing).ok());
  const auto deeper = ParseStrictJson(mixed + "[]" + closing);
  ASSERT_FALSE(deeper.ok());
  EXPECT_EQ(deeper.code(), ErrorCode::kOversized);
  // A very deep input fails at the limit, without recursion.
  const auto huge = ParseStrictJson(Nested(100000));
  ASSERT_FALSE(huge.ok());
  EXPECT_EQ(huge.code(), ErrorCode::kOversized);
}

TEST(JcsStrictParse, SizeLimit) {
  const std::string padded = "\"" + std::string(kMaxJsonBytes - 2, 'a') + "\"";
  ASSERT_EQ(padded.size(), kMaxJsonBytes);
  EXPECT_TRUE(ParseStrictJson(padded).ok());
  const auto over = ParseStrictJson(padded + " ");
  ASSERT_FALSE(over.ok());
  EXPECT_EQ(over.code(), ErrorCode::kOversized);
  const auto custom = ParseStrictJson("[1, 2]", 5);
  ASSERT_FALSE(custom.ok());
  EXPECT_EQ(custom.code(), ErrorCode::kOversized);
  EXPECT_TRUE(ParseStrictJson("[1, 2]", 6).ok());
}

TEST(JcsStrictParse, AcceptsIntegersThatAreDoubles) {
  // 2^53 + 2 is a double; 2^68 written exactly, and as its JCS form (Appendix B), both
  // parse, so Canonicalize's output always parses again.
  EXPECT_EQ(CanonicalText("9007199254740994"), "9007199254740994");
  EXPECT_EQ(CanonicalText("-9007199254740994"), "-9007199254740994");
  EXPECT_EQ(CanonicalText("295147905179352825856"), "295147905179352830000");
  EXPECT_EQ(CanonicalText("295147905179352830000"), "295147905179352830000");
  EXPECT_EQ(CanonicalText("-295147905179352830000"), "-295147905179352830000");
  EXPECT_EQ(CanonicalText("9223372036854775808"), "9223372036854776000");  // 2^63 exactly
  EXPECT_EQ(CanonicalText("9223372036854776000"), "9223372036854776000");  // its JCS form
  EXPECT_EQ(CanonicalText("-9223372036854775808"), "-9223372036854776000");
  EXPECT_EQ(CanonicalText("1000000000000000000000"), "1e+21");  // 10^21 is exact
  // A fraction or exponent rounds as usual (RFC 8785 section 3.2.2 sample).
  EXPECT_EQ(CanonicalText("9007199254740993.0"), "9007199254740992");
}

TEST(JcsStrictParse, AcceptsAnyTopLevelValue) {
  EXPECT_EQ(CanonicalText(" null "), "null");
  EXPECT_EQ(CanonicalText("true"), "true");
  EXPECT_EQ(CanonicalText("\t-0.0\r\n"), "0");
  EXPECT_EQ(CanonicalText(R"("\u00e9")"), "\"\xC3\xA9\"");
  EXPECT_EQ(CanonicalText("[]"), "[]");
  EXPECT_EQ(CanonicalText("{}"), "{}");
}

// --- IsCanonical ------------------------------------------------------------------------

TEST(JcsIsCanonical, OnlyTheCanonicalSpelling) {
  EXPECT_TRUE(IsCanonical(R"({"a":1,"b":[true,null,"A"]})"));
  EXPECT_FALSE(IsCanonical(R"({"a": 1,"b":[true,null,"A"]})"));      // white space
  EXPECT_FALSE(IsCanonical(R"({"a":1,"b":[true,null,"A"]} )"));      // trailing white space
  EXPECT_FALSE(IsCanonical(R"({"b":[true,null,"A"],"a":1})"));       // unsorted names
  EXPECT_FALSE(IsCanonical(R"({"a":1.0,"b":[true,null,"A"]})"));     // "1.0" for "1"
  EXPECT_FALSE(IsCanonical(R"({"a":1,"b":[true,null,"\u0041"]})"));  // "\u0041" for "A"
  EXPECT_FALSE(IsCanonical(R"({"a":1,"b":[true,null,"\/"]})"));      // "\/" for "/"
  EXPECT_FALSE(IsCanonical(R"(["\u001F"])"));                        // upper-case hex
  EXPECT_TRUE(IsCanonical(R"(["\u001f"])"));
  EXPECT_FALSE(IsCanonical(R"({"a":1,"a":1})"));  // duplicate
  EXPECT_FALSE(IsCanonical("1E+21"));
  EXPECT_TRUE(IsCanonical("1e+21"));
}

}  // namespace
}  // namespace holdfast::legal
