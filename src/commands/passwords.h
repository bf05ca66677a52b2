// Argon2id password hashes (libsodium crypto_pwhash_str).
//
// Each hash or verify allocates the whole memory limit and keeps a core busy,
// so at most `max_concurrent` run at once; the rest wait. Unknown emails are
// verified against a dummy hash of the same cost, so the answer's timing does
// not reveal which accounts exist.
#pragma once

#include <cstddef>
#include <future>
#include <memory>
#include <semaphore>
#include <string>

namespace fsm::commands {

class PasswordHasher {
 public:
  PasswordHasher(unsigned long long opslimit, std::size_t memlimit_bytes, int max_concurrent);

  // From FSM_ARGON2_OPSLIMIT, FSM_ARGON2_MEMLIMIT_KB and FSM_ARGON2_CONCURRENCY.
  static std::unique_ptr<PasswordHasher> from_env();

  std::string hash(const std::string& password);
  bool verify(const std::string& stored_hash, const std::string& password);
  // Spends the time of a real verify and returns false.
  bool verify_dummy(const std::string& password);

 private:
  unsigned long long opslimit_;
  std::size_t memlimit_;
  std::counting_semaphore<64> slots_;
  // Computed in the background: one full hash at startup would delay readiness.
  std::shared_future<std::string> dummy_hash_;
};

}  // namespace fsm::commands
