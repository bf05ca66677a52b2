#include "common/uuid.h"

#include <sodium.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>

namespace fsm {
namespace {

// The kernel's randomness, fetched 4 KiB at a time per thread: one getrandom
// call per 256 ids instead of one each (a request makes one or more). The
// bytes are as unpredictable; only the syscalls are fewer.
void random_bytes(unsigned char* out, std::size_t n) {
  thread_local std::array<unsigned char, 4096> pool;
  thread_local std::size_t used = pool.size();
  if (used + n > pool.size()) {
    randombytes_buf(pool.data(), pool.size());
    used = 0;
  }
  std::copy_n(pool.data() + used, n, out);
  sodium_memzero(pool.data() + used, n);  // handed out once
  used += n;
}

// The canonical 8-4-4-4-12 lower-case form, version and variant set.
std::string canonical(std::array<unsigned char, 16> b, unsigned char version) {
  b[6] = static_cast<unsigned char>((b[6] & 0x0F) | (version << 4));
  b[8] = static_cast<unsigned char>((b[8] & 0x3F) | 0x80);  // RFC 4122 variant
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(36);
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
    out.push_back(kHex[b[i] >> 4]);
    out.push_back(kHex[b[i] & 0x0F]);
  }
  return out;
}

}  // namespace

std::string new_uuid() {
  std::array<unsigned char, 16> b{};
  random_bytes(b.data(), b.size());
  const auto ms =
      static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                     std::chrono::system_clock::now().time_since_epoch())
                                     .count());
  for (int i = 0; i < 6; ++i) b[i] = static_cast<unsigned char>(ms >> (8 * (5 - i)));
  return canonical(b, 7);
}

std::string name_based_uuid(std::string_view name) {
  std::array<unsigned char, crypto_hash_sha256_BYTES> digest{};
  crypto_hash_sha256(digest.data(), reinterpret_cast<const unsigned char*>(name.data()),
                     name.size());
  std::array<unsigned char, 16> b{};
  std::copy_n(digest.begin(), b.size(), b.begin());
  return canonical(b, 8);
}

bool is_uuid(std::string_view text) {
  if (text.size() != 36) return false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-') return false;
    } else if (!std::isxdigit(static_cast<unsigned char>(c))) {
      return false;
    }
  }
  return true;
}

std::string sha256_hex(std::string_view data) {
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(digest, reinterpret_cast<const unsigned char*>(data.data()), data.size());
  char hex[crypto_hash_sha256_BYTES * 2 + 1];
  sodium_bin2hex(hex, sizeof hex, digest, sizeof digest);
  return hex;
}

}  // namespace fsm
