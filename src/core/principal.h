// Who a name denotes, for the one question the request state machine asks
// of two names from different places: is the reviewer (a console user
// name) the requester (the user name the endpoint's NSS gave the agent)?
//
// The two namespaces spell one person differently: Linux keeps the case
// ("OpsBob"), console names are lower case ("opsbob"); sssd and winbind
// add a realm or a domain ("alice@corp.example", "CORP\alice") that a
// console name may or may not carry ("alice@corp"). canonical_principal
// drops what differs: an ASCII case fold, the domain before the last '\',
// and the realm from the first '@' on.
//
// MUST: used only to refuse (a reviewer "the same" as the requester may not
// review), never to grant. So it errs towards "the same": alice@corp-a and
// alice@corp-b are one principal here, and a reviewer refused by that
// mistake asks someone else.
#pragma once

#include <string>
#include <string_view>

namespace hoist {

// "CORP\OpsBob@Corp.Example" -> "opsbob". Bytes outside ASCII are kept as
// they are; an empty name stays empty.
std::string canonical_principal(std::string_view name);

// Whether two names denote the same principal: equal canonical forms.
bool same_principal(std::string_view a, std::string_view b);

}  // namespace hoist
