// Order: a signed request from an authority for a suspect's phone number and IP records.
//
// The file form is {"order": {...}, "signature": "<base64 Ed25519 over JCS(order)>"}; the
// field names are in docs/lawful-disclosure.md. ParseOrderFile only reads: whether the
// authority exists, the signature verifies and the policy allows it is the engine's call.
#ifndef HOLDFAST_LEGAL_ORDER_H_
#define HOLDFAST_LEGAL_ORDER_H_

#include <array>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "holdfast/common/bytes.h"
#include "holdfast/legal/types.h"

namespace holdfast::legal {

inline constexpr size_t kMaxOrderBytes = 64 * 1024;
inline constexpr size_t kMaxTargets = 100;
inline constexpr size_t kMaxDataRequested = 16;
inline constexpr size_t kMaxTextBytes = 16 * 1024;  // legal basis, reasons, redress
inline constexpr int kOrderVersion = 1;

struct OrderTarget {
  // Exactly one is set: an E.164 phone number, or a 16-byte account id.
  std::string phone_number;
  Bytes account_id;
  // Label is how the order named it ("+4366..." or the account id's hex).
  std::string Label() const;
};

struct Order {
  std::string order_id;
  std::string authority_id;
  std::string legal_basis;
  std::string statement_of_reasons;         // empty when only its hash is given
  std::string statement_of_reasons_sha256;  // hex; empty when the text is given
  std::vector<OrderTarget> targets;
  std::string category;
  // What was asked for, split by the only line that matters: what Holdfast can hold in a
  // readable form, and everything else (content), which it cannot.
  std::vector<DataType> data_requested;
  std::vector<std::string> content_requested;  // e.g. "messages", "contacts"
  std::optional<int64_t> ip_from_ms;
  std::optional<int64_t> ip_to_ms;
  int64_t issued_ms = 0;
  int64_t valid_until_ms = 0;
  std::optional<int64_t> gag_until_ms;
  std::string effect_report_to;
  std::string redress;
};

// ParsedOrder is what could be read from a submission, good or bad.
struct ParsedOrder {
  // order_hash is SHA-256 of the JCS bytes of the order object when it could be read, else
  // of the submitted bytes: the log names every decision by it.
  std::array<uint8_t, 32> order_hash{};
  std::optional<Reason> failure;  // kOversized, kMalformed or kNonCanonical
  // Set once the order object was read (possibly with `failure` kMalformed for a bad field,
  // in which case authority_id and order_id are filled when they were readable).
  std::optional<Order> order;
  std::string authority_id;
  std::string order_id;
  std::string canonical;         // JCS bytes of the order object (what the signature covers)
  Bytes signature;               // 64 bytes when well-formed
  const char* detail = nullptr;  // which field failed
};

// ParseOrderFile reads a submitted order file. It never fails as a call: problems are in
// ParsedOrder::failure.
ParsedOrder ParseOrderFile(std::string_view bytes);

// OrderToJson gives the order object in the documented form; CanonicalOrder its JCS bytes.
// Authorities' tooling (and the tests) sign CanonicalOrder.
nlohmann::json OrderToJson(const Order& order);
std::string CanonicalOrder(const Order& order);

}  // namespace holdfast::legal

#endif  // HOLDFAST_LEGAL_ORDER_H_
