// UUIDs as canonical lower-case strings, and digests (libsodium).
#pragma once

#include <string>
#include <string_view>

namespace fsm {

// A version-7 UUID: millisecond time prefix plus 74 random bits (libsodium).
// Time-ordered ids keep the B-tree indexes on ids append-mostly, which matters
// for insert speed on a Raspberry Pi's SD card or SSD.
std::string new_uuid();

// A name-based UUID: version 8 over the first 16 bytes of SHA-256(name)
// (RFC 9562, appendix B.2). The same name gives the same id everywhere.
std::string name_based_uuid(std::string_view name);

// True for the canonical 8-4-4-4-12 hex form (either case).
bool is_uuid(std::string_view text);

// SHA-256 of `data`, lower-case hex.
std::string sha256_hex(std::string_view data);

}  // namespace fsm
