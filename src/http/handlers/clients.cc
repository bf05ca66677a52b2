// /api/v1/clients and their properties (domain/client.h, domain/property.h).
#include "domain/client.h"
#include "domain/property.h"
#include "http/api.h"

namespace fsm::http {

namespace cmd = commands;
using domain::Mode;

void client_routes(Api& api) {
  static const ListOptions kList = {{"name", "created_at", "updated_at"}, {}};
  const std::string type = domain::client::kKind.stream_type;
  api.get("/api/v1/clients", kAll,
          [&api, type](const Call& c) { return api.list(c, type, kList); });
  api.post("/api/v1/clients", kOffice, [&api, type](const Call& c) -> Result<Response> {
    FSM_TRY(auto fields, c.body(domain::client::fields(), Mode::kCreate));
    return api.answer(c, cmd::client::create(c.ctx(), fields), type, 201);
  });
  api.get("/api/v1/clients/:id", kAll, [&api, type](const Call& c) { return api.read(c, type); });
  api.patch("/api/v1/clients/:id", kOffice, [&api, type](const Call& c) -> Result<Response> {
    FSM_TRY(auto target, c.target());
    FSM_TRY(auto patch, c.body(domain::for_patch(domain::client::fields()), Mode::kPatch));
    return api.answer(c, cmd::client::patch(c.ctx(), target, patch), type, 200);
  });
  api.del("/api/v1/clients/:id", kOwner, [&api, type](const Call& c) -> Result<Response> {
    FSM_TRY(auto target, c.target());
    return api.answer(c, cmd::client::remove(c.ctx(), target), type, 204);
  });
}

void property_routes(Api& api) {
  static const ListOptions kList = {{"name", "address", "city", "created_at", "updated_at"}, {}};
  const std::string type = domain::property::kKind.stream_type;
  api.get("/api/v1/clients/:clientId/properties", kAll, [&api, type](const Call& c) {
    return api.list_under(c, domain::client::kKind.stream_type, "clientId", type, "client_id",
                          kList);
  });
  api.post("/api/v1/clients/:clientId/properties", kOffice,
           [&api, type](const Call& c) -> Result<Response> {
             FSM_TRY(auto client_id, c.id("clientId"));
             FSM_TRY(auto fields, c.body(domain::property::fields(), Mode::kCreate));
             return api.answer(c, cmd::property::create(c.ctx(), client_id, fields), type, 201);
           });
  api.get("/api/v1/properties/:id", kAll,
          [&api, type](const Call& c) { return api.read(c, type); });
  api.patch("/api/v1/properties/:id", kOffice, [&api, type](const Call& c) -> Result<Response> {
    FSM_TRY(auto target, c.target());
    FSM_TRY(auto patch, c.body(domain::for_patch(domain::property::fields()), Mode::kPatch));
    return api.answer(c, cmd::property::patch(c.ctx(), target, patch), type, 200);
  });
  api.del("/api/v1/properties/:id", kOwner, [&api, type](const Call& c) -> Result<Response> {
    FSM_TRY(auto target, c.target());
    return api.answer(c, cmd::property::remove(c.ctx(), target), type, 204);
  });
}

}  // namespace fsm::http
