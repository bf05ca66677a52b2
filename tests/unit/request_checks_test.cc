// The checks every request passes before its handler: JSON bodies only, and
// cross-site request forgery with the session cookie.
#include "http/request_checks.h"

#include <gtest/gtest.h>

namespace fsm::http {
namespace {

Request with(Method method, std::string body,
             std::vector<std::pair<std::string, std::string>> headers) {
  Request r;
  r.method = method;
  r.path = "/api/v1/clients";
  r.body = std::move(body);
  r.headers = std::move(headers);  // names lower-cased, as the server stores them
  return r;
}

TEST(RequestChecks, JsonBodiesPass) {
  for (const std::string type :
       {"application/json", "application/json; charset=utf-8", "Application/JSON;charset=UTF-8",
        "application/json ; charset=\"utf-8\""}) {
    EXPECT_FALSE(check_media_type(with(Method::kPost, "{}", {{"content-type", type}}))) << type;
  }
}

TEST(RequestChecks, OtherBodiesAreUnsupportedMediaTypes) {
  for (const std::string type :
       {"text/plain", "text/plain; charset=utf-8", "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x", "application/jsonx", "application/json; charset=latin1",
        "application/json; charset=utf-8; x=y", "application/json; boundary=x", "", "json"}) {
    for (const Method m : {Method::kPost, Method::kPatch, Method::kPut, Method::kDelete}) {
      const auto refused = check_media_type(with(m, "{}", {{"content-type", type}}));
      ASSERT_TRUE(refused) << type;
      EXPECT_EQ(refused->code, TransportCode::kUnsupportedMediaType);
      EXPECT_EQ(contract_code(refused->code).status, 415);
    }
  }
  const auto missing = check_media_type(with(Method::kPost, "{}", {}));
  ASSERT_TRUE(missing);
  EXPECT_EQ(error_response(*missing, "t").body["error"]["code"], "UNSUPPORTED_MEDIA_TYPE");
}

TEST(RequestChecks, RequestsWithoutABodyNeedNoContentType) {
  EXPECT_FALSE(check_media_type(with(Method::kPost, "", {})));
  EXPECT_FALSE(check_media_type(with(Method::kDelete, "", {{"content-type", "text/plain"}})));
  EXPECT_FALSE(check_media_type(with(Method::kGet, "", {})));
}

TEST(RequestChecks, AllowedOriginsAreParsedAndValidated) {
  EXPECT_EQ(parse_allowed_origins(""), std::vector<std::string>{});
  EXPECT_EQ(parse_allowed_origins(" https://App.Example.com , http://localhost:3000,"),
            (std::vector<std::string>{"https://app.example.com", "http://localhost:3000"}));
  EXPECT_EQ(parse_allowed_origins("http://[::1]:8080"),
            std::vector<std::string>{"http://[::1]:8080"});
  for (const char* bad :
       {"app.example.com", "https://app.example.com/", "https://*.example.com", "null", "ftp://x",
        "https://", "https://x:", "https://x:123456", "https://x/path", "https://user@x"}) {
    EXPECT_THROW(parse_allowed_origins(bad), std::invalid_argument) << bad;
  }
}

TEST(RequestChecks, CookieWritesNeedAnAllowedOriginOrSameOriginFetch) {
  const std::vector<std::string> allowed = {"https://app.example.com"};
  auto check = [&](Method m, std::vector<std::pair<std::string, std::string>> headers) {
    return check_cookie_origin(with(m, "{}", std::move(headers)), allowed);
  };
  EXPECT_FALSE(check(Method::kPost, {{"origin", "https://app.example.com"}}));
  EXPECT_FALSE(check(Method::kPost, {{"origin", "HTTPS://APP.EXAMPLE.COM"}}));
  EXPECT_FALSE(check(Method::kPatch, {{"sec-fetch-site", "same-origin"}}));
  EXPECT_FALSE(check(Method::kDelete,
                     {{"origin", "http://localhost:1234"}, {"sec-fetch-site", "same-origin"}}));
  for (const auto& headers : std::vector<std::vector<std::pair<std::string, std::string>>>{
           {{"origin", "https://evil.example"}},
           {{"origin", "https://app.example.com.evil.example"}},
           {{"origin", "http://app.example.com"}},  // another scheme is another origin
           {{"origin", "https://app.example.com:8443"}},
           {{"origin", "null"}},
           {{"sec-fetch-site", "cross-site"}},
           {{"sec-fetch-site", "same-site"}},
           {{"sec-fetch-site", "none"}},
           {{"origin", "https://evil.example"}, {"sec-fetch-site", "cross-site"}},
           {}}) {  // neither header: not a browser, which should use Bearer
    for (const Method m : {Method::kPost, Method::kPatch, Method::kPut, Method::kDelete}) {
      const auto refused = check(m, headers);
      ASSERT_TRUE(refused) << (headers.empty() ? "no headers" : headers[0].second);
      EXPECT_EQ(refused->code, ErrorCode::kForbidden);
    }
  }
}

TEST(RequestChecks, SafeMethodsAreNotOriginChecked) {
  for (const Method m : {Method::kGet, Method::kHead, Method::kOptions}) {
    EXPECT_FALSE(check_cookie_origin(with(m, "", {{"origin", "https://evil.example"}}), {}));
  }
}

}  // namespace
}  // namespace fsm::http
