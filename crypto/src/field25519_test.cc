// The field arithmetic is checked against OpenSSL's BIGNUM as an independent oracle, on edge
// values and on many random inputs, including unreduced encodings.
#include "field25519.h"

#include <gtest/gtest.h>
#include <openssl/bn.h>

#include <algorithm>
#include <memory>
#include <vector>

#include "holdfast/common/encoding.h"
#include "holdfast/common/rng.h"

namespace holdfast::crypto::internal {
namespace {

using Bytes32 = std::array<uint8_t, 32>;

struct BnDeleter {
  void operator()(BIGNUM* b) const { BN_free(b); }
};
using Bn = std::unique_ptr<BIGNUM, BnDeleter>;
struct CtxDeleter {
  void operator()(BN_CTX* c) const { BN_CTX_free(c); }
};

class FieldOracle {
 public:
  FieldOracle() : ctx_(BN_CTX_new()), p_(BN_new()) {
    BN_set_bit(p_.get(), 255);
    BN_sub_word(p_.get(), 19);
  }
  Bn FromLe(const Bytes32& b, bool drop_top_bit = true) const {
    Bytes32 be;
    std::reverse_copy(b.begin(), b.end(), be.begin());
    if (drop_top_bit) {
      be[0] &= 0x7f;
    }
    return Bn(BN_bin2bn(be.data(), 32, nullptr));
  }
  Bytes32 ToLe(const BIGNUM* v) const {
    Bytes32 be{};
    BN_bn2binpad(v, be.data(), 32);
    Bytes32 le;
    std::reverse_copy(be.begin(), be.end(), le.begin());
    return le;
  }
  Bytes32 Reduce(const Bytes32& x) const {
    Bn v = FromLe(x);
    BN_nnmod(v.get(), v.get(), p_.get(), ctx_.get());
    return ToLe(v.get());
  }
  Bytes32 Add(const Bytes32& x, const Bytes32& y) const { return Op(x, y, BN_mod_add); }
  Bytes32 Sub(const Bytes32& x, const Bytes32& y) const { return Op(x, y, BN_mod_sub); }
  Bytes32 Mul(const Bytes32& x, const Bytes32& y) const { return Op(x, y, BN_mod_mul); }
  Bytes32 Inv(const Bytes32& x) const {
    Bn v = FromLe(x), e(BN_dup(p_.get())), r(BN_new());
    BN_sub_word(e.get(), 2);
    BN_mod_exp(r.get(), v.get(), e.get(), p_.get(), ctx_.get());
    return ToLe(r.get());
  }
  bool Less(const Bytes32& x) const {
    Bn v = FromLe(x, /*drop_top_bit=*/false);
    return BN_cmp(v.get(), p_.get()) < 0;
  }
  const BIGNUM* p() const { return p_.get(); }

 private:
  using BnOp = int (*)(BIGNUM*, const BIGNUM*, const BIGNUM*, const BIGNUM*, BN_CTX*);
  Bytes32 Op(const Bytes32& x, const Bytes32& y, BnOp op) const {
    Bn a = FromLe(x), b = FromLe(y), r(BN_new());
    BN_nnmod(a.get(), a.get(), p_.get(), ctx_.get());
    BN_nnmod(b.get(), b.get(), p_.get(), ctx_.get());
    op(r.get(), a.get(), b.get(), p_.get(), ctx_.get());
    return ToLe(r.get());
  }
  std::unique_ptr<BN_CTX, CtxDeleter> ctx_;
  Bn p_;
};

Bytes32 FromHex(const char* hex) {
  Bytes32 out{};
  auto b = HexDecode(hex);
  std::copy(b->begin(), b->end(), out.begin());
  return out;
}

// Values at the edges of the representation: 0, 1, 2, p-1, p, p+1, 2^255-1, 2^255 (top bit
// only), all ones, and 2^51 - 1 / 2^51 limb boundaries.
std::vector<Bytes32> EdgeValues() {
  std::vector<Bytes32> v;
  v.push_back({});
  Bytes32 one{};
  one[0] = 1;
  v.push_back(one);
  Bytes32 two{};
  two[0] = 2;
  v.push_back(two);
  v.push_back(FromHex("ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"));  // p-1
  v.push_back(FromHex("edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"));  // p
  v.push_back(FromHex("eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"));  // p+1
  v.push_back(FromHex("ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"));
  v.push_back(FromHex("0000000000000000000000000000000000000000000000000000000000000080"));
  v.push_back(FromHex("ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"));
  v.push_back(FromHex("ffffffffffff0700000000000000000000000000000000000000000000000000"));
  v.push_back(FromHex("0000000000000800000000000000000000000000000000000000000000000000"));
  return v;
}

std::vector<Bytes32> TestValues(size_t random_count) {
  std::vector<Bytes32> v = EdgeValues();
  DeterministicRng rng(2551);
  for (size_t i = 0; i < random_count; ++i) {
    Bytes32 b;
    rng.Fill(b);
    v.push_back(b);
  }
  return v;
}

Bytes32 Enc(const FieldElement& f) { return FeToBytes(f); }
FieldElement Dec(const Bytes32& b) { return FeFromBytes(b); }

TEST(Field25519, EncodingIsCanonical) {
  FieldOracle o;
  for (const auto& x : TestValues(2000)) {
    EXPECT_EQ(HexEncode(Enc(Dec(x))), HexEncode(o.Reduce(x))) << HexEncode(x);
  }
}

TEST(Field25519, IsCanonicalMatchesComparisonWithP) {
  FieldOracle o;
  for (const auto& x : TestValues(2000)) {
    EXPECT_EQ(FeIsCanonical(x), o.Less(x)) << HexEncode(x);
  }
}

TEST(Field25519, ArithmeticMatchesBignum) {
  FieldOracle o;
  const auto values = TestValues(300);
  for (size_t i = 0; i < values.size(); ++i) {
    for (size_t j = 0; j < values.size(); j += 7) {
      const auto& x = values[i];
      const auto& y = values[(i + j) % values.size()];
      ASSERT_EQ(Enc(FeAdd(Dec(x), Dec(y))), o.Add(x, y)) << HexEncode(x) << " + " << HexEncode(y);
      ASSERT_EQ(Enc(FeSub(Dec(x), Dec(y))), o.Sub(x, y)) << HexEncode(x) << " - " << HexEncode(y);
      ASSERT_EQ(Enc(FeMul(Dec(x), Dec(y))), o.Mul(x, y)) << HexEncode(x) << " * " << HexEncode(y);
    }
    ASSERT_EQ(Enc(FeSquare(Dec(values[i]))), o.Mul(values[i], values[i])) << HexEncode(values[i]);
  }
}

TEST(Field25519, ChainedOperationsStayInBounds) {
  // Long chains feed each output back in without re-encoding, as the conversion does.
  FieldOracle o;
  DeterministicRng rng(9);
  Bytes32 xb, yb;
  rng.Fill(xb);
  rng.Fill(yb);
  FieldElement x = Dec(xb), y = Dec(yb);
  Bytes32 ox = o.Reduce(xb), oy = o.Reduce(yb);
  for (int i = 0; i < 2000; ++i) {
    switch (i % 4) {
      case 0:
        x = FeAdd(x, y);
        ox = o.Add(ox, oy);
        break;
      case 1:
        y = FeSub(y, x);
        oy = o.Sub(oy, ox);
        break;
      case 2:
        x = FeMul(x, y);
        ox = o.Mul(ox, oy);
        break;
      default:
        y = FeSquare(FeAdd(y, y));
        oy = o.Mul(o.Add(oy, oy), o.Add(oy, oy));
        break;
    }
    ASSERT_EQ(Enc(x), ox) << i;
    ASSERT_EQ(Enc(y), oy) << i;
  }
}

TEST(Field25519, InvertMatchesBignumAndIsAnInverse) {
  FieldOracle o;
  for (const auto& x : TestValues(200)) {
    const FieldElement inv = FeInvert(Dec(x));
    EXPECT_EQ(Enc(inv), o.Inv(x)) << HexEncode(x);
    const Bytes32 reduced = o.Reduce(x);
    const bool is_zero =
        std::all_of(reduced.begin(), reduced.end(), [](uint8_t b) { return b == 0; });
    Bytes32 want{};
    if (!is_zero) {
      want[0] = 1;
    }
    EXPECT_EQ(Enc(FeMul(Dec(x), inv)), want) << HexEncode(x);
  }
}

TEST(Field25519, MontgomeryToEdwardsMatchesBaseAndFormula) {
  FieldOracle o;
  // The Curve25519 base point u = 9 maps to the Ed25519 base point y = 4/5.
  Bytes32 nine{};
  nine[0] = 9;
  EXPECT_EQ(HexEncode(Enc(MontgomeryUToEdwardsY(Dec(nine)))),
            "5866666666666666666666666666666666666666666666666666666666666666");
  Bytes32 one{};
  one[0] = 1;
  for (const auto& u : TestValues(200)) {
    const Bytes32 want = o.Mul(o.Sub(u, one), o.Inv(o.Add(u, one)));
    EXPECT_EQ(Enc(MontgomeryUToEdwardsY(Dec(u))), want) << HexEncode(u);
  }
}

TEST(Field25519, EdwardsToMontgomeryMatchesBaseAndFormula) {
  FieldOracle o;
  // The Ed25519 base point y = 4/5 maps to u = 9, and the map inverts MontgomeryUToEdwardsY.
  Bytes32 nine{};
  nine[0] = 9;
  EXPECT_EQ(Enc(EdwardsYToMontgomeryU(MontgomeryUToEdwardsY(Dec(nine)))), nine);
  Bytes32 one{};
  one[0] = 1;
  for (const auto& y : TestValues(200)) {
    const Bytes32 want = o.Mul(o.Add(one, y), o.Inv(o.Sub(one, y)));
    EXPECT_EQ(Enc(EdwardsYToMontgomeryU(Dec(y))), want) << HexEncode(y);
  }
}

}  // namespace
}  // namespace holdfast::crypto::internal
