// What every command that talks to hoistd shares: the global flags, the
// connection made from the saved login, error reporting with exit codes,
// and tolerant reading of JSON replies.
#pragma once

#include <boost/json/value.hpp>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "cli/api_client.h"
#include "cli/credentials.h"
#include "core/result.h"
#include "net/client/failover_client.h"

namespace hoist::cli {

struct Globals {
  bool json = false;  // --json: print the server's JSON instead of tables
};

// A client of `servers` (one https:// URL, or several replicas separated by
// commas: net/client/server_list.h), trusting each by fingerprint and/or CA
// file, moving to the next URL when one cannot be reached
// (net/client/failover_client.h). `headers` go with every request.
Result<std::unique_ptr<net::FailoverApiClient>> api_client_for(const std::string& servers,
                                                               const std::optional<std::string>& ca_fingerprint,
                                                               const std::optional<std::string>& ca_file,
                                                               std::vector<net::Header> headers = {});

// An ApiClient that sends the saved (or environment's) API token.
Result<std::unique_ptr<ApiClient>> connect_logged_in();

// The usual command: connects with the saved login, makes one call, and
// prints the reply's JSON (--json) or hands it to `show` for people.
// Returns the exit code (cli/exit_codes.h).
int call_and_show(const Globals& globals, std::string_view method, const std::string& target,
                  const std::function<void(const boost::json::value& reply)>& show);
int call_and_show(const Globals& globals, std::string_view method, const std::string& target,
                  const boost::json::value& body, const std::function<void(const boost::json::value& reply)>& show);

// Prints "hoist: <message>" (and for 401 a hint to log in) on stderr and
// returns the exit code for the error's category (cli/exit_codes.h).
int report(const Error& error);

// One JSON document on stdout, followed by a newline.
void print_json(const boost::json::value& value);

// Fields of a JSON object from the server, read without throwing: a
// missing or differently typed field reads as "" / 0 / false.
std::string text_of(const boost::json::value& object, std::string_view key);
long long number_of(const boost::json::value& object, std::string_view key);
bool flag_of(const boost::json::value& object, std::string_view key);
const boost::json::value& field_of(const boost::json::value& object, std::string_view key);
// A JSON array of strings as "a, b, c".
std::string joined_of(const boost::json::value& object, std::string_view key);

}  // namespace hoist::cli
