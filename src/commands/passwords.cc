#include "commands/passwords.h"

#include <sodium.h>

#include <stdexcept>

#include "common/env.h"

namespace fsm::commands {
namespace {

// Holds one of the hasher's slots for the duration of a hash or verify.
class Slot {
 public:
  explicit Slot(std::counting_semaphore<64>& s) : s_(s) { s_.acquire(); }
  ~Slot() { s_.release(); }
  Slot(const Slot&) = delete;
  Slot& operator=(const Slot&) = delete;

 private:
  std::counting_semaphore<64>& s_;
};

}  // namespace

PasswordHasher::PasswordHasher(unsigned long long opslimit, std::size_t memlimit_bytes,
                               int max_concurrent)
    : opslimit_(opslimit), memlimit_(memlimit_bytes), slots_(max_concurrent) {
  dummy_hash_ = std::async(std::launch::async, [this] {
                  unsigned char random[32];
                  randombytes_buf(random, sizeof random);
                  return hash(std::string(reinterpret_cast<char*>(random), sizeof random));
                }).share();
}

std::unique_ptr<PasswordHasher> PasswordHasher::from_env() {
  // OWASP's recommended minimum for Argon2id (19 MiB, 2 passes): libsodium's
  // INTERACTIVE 64 MiB per login would dwarf fsm-web's whole budget on a Pi.
  const auto ops = env::get_int("FSM_ARGON2_OPSLIMIT", 2, crypto_pwhash_OPSLIMIT_MIN, 20);
  const auto mem_kb = env::get_int("FSM_ARGON2_MEMLIMIT_KB", 19 * 1024, 8, 1024 * 1024);
  const auto conc = env::get_int("FSM_ARGON2_CONCURRENCY", 1, 1, 64);
  return std::make_unique<PasswordHasher>(static_cast<unsigned long long>(ops),
                                          static_cast<std::size_t>(mem_kb) * 1024,
                                          static_cast<int>(conc));
}

std::string PasswordHasher::hash(const std::string& password) {
  Slot slot(slots_);
  char out[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_str(out, password.data(), password.size(), opslimit_, memlimit_) != 0) {
    throw std::runtime_error("password hashing ran out of memory");
  }
  return out;
}

bool PasswordHasher::verify(const std::string& stored_hash, const std::string& password) {
  Slot slot(slots_);
  return crypto_pwhash_str_verify(stored_hash.c_str(), password.data(), password.size()) == 0;
}

bool PasswordHasher::verify_dummy(const std::string& password) {
  verify(dummy_hash_.get(), password);
  return false;
}

}  // namespace fsm::commands
