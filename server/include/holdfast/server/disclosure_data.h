// The server's side of lawful disclosure: legal::PersonalData over the account store's phone
// numbers and the IP-record store, and nothing else of the server's data.
#ifndef HOLDFAST_SERVER_DISCLOSURE_DATA_H_
#define HOLDFAST_SERVER_DISCLOSURE_DATA_H_

#include <memory>

#include "holdfast/legal/disclosure.h"
#include "holdfast/server/database.h"
#include "holdfast/server/storage.h"

namespace holdfast::server {

// NewDisclosureData reads through `storage`, which must outlive it and must not be used by
// another thread meanwhile (holdfast-admin owns its own connection to the database).
std::unique_ptr<legal::PersonalData> NewDisclosureData(Storage& storage);

// NewDatabaseDisclosureData reads through holdfastd's database thread: each call waits for
// its read to run there (so never call it on that thread).
std::unique_ptr<legal::PersonalData> NewDatabaseDisclosureData(Database& db);

}  // namespace holdfast::server

#endif  // HOLDFAST_SERVER_DISCLOSURE_DATA_H_
