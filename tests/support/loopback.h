// Listening sockets on 127.0.0.1 for the test servers (proxy, HTTP receiver).
#pragma once

namespace fsm::testing {

// A socket listening on 127.0.0.1:`port` (0: a free one), with SO_REUSEADDR
// so a test server can listen again on the port it just closed. Throws
// std::runtime_error when it cannot.
int listen_on_loopback(int port = 0);

// The local port of the socket `fd`.
int local_port(int fd);

}  // namespace fsm::testing
