#include "holdfast/server/disclosure_data.h"

#include <algorithm>

namespace holdfast::server {
namespace {

static_assert(legal::kAccountIdBytes == kAccountIdBytes);

class StorageDisclosureData final : public legal::PersonalData {
 public:
  explicit StorageDisclosureData(Storage& storage) : storage_(storage) {}

  Result<std::optional<legal::AccountRef>> ByPhone(std::string_view e164) override {
    HF_ASSIGN_OR_RETURN(auto account, storage_.accounts().ByPhone(e164));
    return Ref(account);
  }

  Result<std::optional<legal::AccountRef>> ById(ByteSpan account_id) override {
    AccountId id{};
    if (account_id.size() != id.size()) {
      return std::optional<legal::AccountRef>();
    }
    std::copy(account_id.begin(), account_id.end(), id.begin());
    HF_ASSIGN_OR_RETURN(auto account, storage_.accounts().ById(id));
    return Ref(account);
  }

  Result<std::vector<legal::IpRecordView>> IpRecords(ByteSpan account_id, int64_t from_ms,
                                                     int64_t to_ms) override {
    AccountId id{};
    if (account_id.size() != id.size()) {
      return std::vector<legal::IpRecordView>();
    }
    std::copy(account_id.begin(), account_id.end(), id.begin());
    HF_ASSIGN_OR_RETURN(auto records, storage_.ip_records().ForAccount(id, from_ms, to_ms));
    std::vector<legal::IpRecordView> out;
    out.reserve(records.size());
    for (const auto& r : records) {
      out.push_back(legal::IpRecordView{r.ip, r.port, r.start_ms, r.end_ms});
    }
    std::sort(out.begin(), out.end(),
              [](const auto& a, const auto& b) { return a.start_ms < b.start_ms; });
    return out;
  }

 private:
  // Ref keeps the id and the phone number; nothing else of the account leaves here.
  static std::optional<legal::AccountRef> Ref(const std::optional<Account>& account) {
    if (!account) {
      return std::nullopt;
    }
    return legal::AccountRef{Bytes(account->id.begin(), account->id.end()), account->phone};
  }

  Storage& storage_;
};

class DatabaseDisclosureData final : public legal::PersonalData {
 public:
  explicit DatabaseDisclosureData(Database& db) : db_(db) {}

  Result<std::optional<legal::AccountRef>> ByPhone(std::string_view e164) override {
    return OnDb<std::optional<legal::AccountRef>>(
        [&](legal::PersonalData& d) { return d.ByPhone(e164); });
  }
  Result<std::optional<legal::AccountRef>> ById(ByteSpan account_id) override {
    return OnDb<std::optional<legal::AccountRef>>(
        [&](legal::PersonalData& d) { return d.ById(account_id); });
  }
  Result<std::vector<legal::IpRecordView>> IpRecords(ByteSpan account_id, int64_t from_ms,
                                                     int64_t to_ms) override {
    return OnDb<std::vector<legal::IpRecordView>>(
        [&](legal::PersonalData& d) { return d.IpRecords(account_id, from_ms, to_ms); });
  }

 private:
  template <typename T, typename Fn>
  Result<T> OnDb(Fn fn) {
    std::optional<Result<T>> out;
    auto ran = db_.Run([&](Storage& s) -> Result<void> {
      StorageDisclosureData data(s);
      out.emplace(fn(data));
      return Ok();
    });
    if (!ran.ok()) {
      return ran.error();
    }
    return std::move(*out);
  }

  Database& db_;
};

}  // namespace

std::unique_ptr<legal::PersonalData> NewDisclosureData(Storage& storage) {
  return std::make_unique<StorageDisclosureData>(storage);
}

std::unique_ptr<legal::PersonalData> NewDatabaseDisclosureData(Database& db) {
  return std::make_unique<DatabaseDisclosureData>(db);
}

}  // namespace holdfast::server
