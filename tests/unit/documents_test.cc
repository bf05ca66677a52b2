// Estimates, invoices and payments: given the events, when the command, then
// these events or this error. The allowed moves are the contract's tables,
// written out here independently of documents.cc; every other pair is refused.
#include <gtest/gtest.h>

#include <set>

#include "domain/estimate.h"
#include "domain/invoice.h"

namespace fsm::domain {
namespace {

using nlohmann::json;

EntityState given(const std::string& aggregate, json fields, std::vector<DomainEvent> later = {}) {
  EntityState s;
  evolve(s, aggregate + "Created", fields, 1);
  int v = 1;
  for (const auto& e : later) evolve(s, e.type, e.data, ++v);
  return s;
}

const char* kNow = "2026-11-28T09:30:00.000Z";

TEST(Estimates, EveryPairFollowsTheContract) {
  const std::vector<std::string> all = {"draft", "sent", "approved", "declined", "expired"};
  const std::set<std::pair<std::string, std::string>> ok = {
      {"draft", "sent"}, {"sent", "approved"}, {"sent", "declined"}, {"sent", "expired"}};
  for (const auto& from : all) {
    for (const auto& to : all) {
      auto r = estimate::transition(given("Estimate", {{"status", from}}), to, kNow);
      if (ok.count({from, to})) {
        ASSERT_TRUE(r.ok()) << from << " -> " << to;
        EXPECT_EQ((*r)[0].data["to"], to);
      } else {
        ASSERT_FALSE(r.ok()) << from << " -> " << to;
        EXPECT_EQ(r.error().code, ErrorCode::kInvalidTransition);
      }
    }
  }
  auto sent = estimate::transition(given("Estimate", {{"status", "draft"}}), "sent", kNow);
  EXPECT_EQ((*sent)[0].data["changes"]["sent_at"], kNow);
  EXPECT_EQ(
      estimate::transition(given("Estimate", {{"status", "draft"}}), "gone", kNow).error().code,
      ErrorCode::kValidation);
}

TEST(Estimates, WhatEachStatusLetsChange) {
  const json notes = {{"internal_notes", "call first"}};
  const json lines = {{"notes", "new terms"}};
  EXPECT_TRUE(estimate::patch(given("Estimate", {{"status", "draft"}}), lines).ok());
  EXPECT_TRUE(estimate::patch(given("Estimate", {{"status", "sent"}}), notes).ok());
  EXPECT_EQ(estimate::patch(given("Estimate", {{"status", "sent"}}), lines).error().code,
            ErrorCode::kImmutableEntity);
  for (const char* s : {"approved", "declined", "expired"}) {
    EXPECT_EQ(estimate::patch(given("Estimate", {{"status", s}}), notes).error().code,
              ErrorCode::kImmutableEntity)
        << s;
  }
}

TEST(Invoices, EveryPairFollowsTheContractWhenMoneyAgrees) {
  const std::vector<std::string> all = {"draft", "sent", "partial", "overdue", "paid", "void"};
  const std::set<std::pair<std::string, std::string>> ok = {
      {"draft", "sent"},     {"draft", "void"},      {"sent", "partial"},   {"sent", "paid"},
      {"sent", "overdue"},   {"sent", "void"},       {"partial", "paid"},   {"partial", "overdue"},
      {"partial", "void"},   {"overdue", "partial"}, {"overdue", "paid"},   {"overdue", "void"}};
  for (const auto& from : all) {
    for (const auto& to : all) {
      // Money that agrees with the target: partial 0 < paid < total, paid paid >= total.
      const int paid = to == "paid" ? 1000 : (to == "partial" ? 400 : 0);
      auto inv = given("Invoice", {{"status", from}, {"total_cents", 1000}, {"paid_cents", paid}});
      auto r = invoice::transition(inv, to, kNow);
      EXPECT_EQ(r.ok(), ok.count({from, to}) > 0) << from << " -> " << to;
      if (!r.ok()) {
        EXPECT_EQ(r.error().code, ErrorCode::kInvalidTransition);
      }
    }
  }
}

TEST(Invoices, StatusMustAgreeWithMoney) {
  auto unpaid = given("Invoice", {{"status", "sent"}, {"total_cents", 1000}, {"paid_cents", 0}});
  EXPECT_EQ(invoice::transition(unpaid, "paid", kNow).error().code, ErrorCode::kInvalidTransition)
      << "manual paid with nothing paid";
  EXPECT_EQ(invoice::transition(unpaid, "partial", kNow).error().code,
            ErrorCode::kInvalidTransition);
  auto full = given("Invoice", {{"status", "sent"}, {"total_cents", 1000}, {"paid_cents", 1000}});
  EXPECT_EQ(invoice::transition(full, "partial", kNow).error().code, ErrorCode::kInvalidTransition);
  auto paid = invoice::transition(full, "paid", kNow);
  ASSERT_TRUE(paid.ok());
  EXPECT_EQ((*paid)[0].data["changes"]["paid_at"], kNow);
  auto sent = invoice::transition(
      given("Invoice", {{"status", "draft"}, {"total_cents", 1000}, {"paid_cents", 0}}), "sent",
      kNow);
  ASSERT_TRUE(sent.ok());
  EXPECT_EQ((*sent)[0].data["changes"]["sent_at"], kNow);
  EXPECT_TRUE(invoice::patch(given("Invoice", {{"status", "draft"}}), {{"notes", "x"}}).ok());
  for (const char* s : {"sent", "partial", "overdue", "paid", "void"}) {
    EXPECT_EQ(invoice::patch(given("Invoice", {{"status", s}}), {{"notes", "x"}}).error().code,
              ErrorCode::kImmutableEntity)
        << s;
  }
}

// paid iff paid_cents >= total_cents: with a zero total nothing is owed, so
// the invoice cannot be sent (or overdue) as unpaid; it can be voided.
TEST(Invoices, AZeroTotalInvoiceIsNeverSentAsUnpaid) {
  auto zero = given("Invoice", {{"status", "draft"}, {"total_cents", 0}, {"paid_cents", 0}});
  auto sent = invoice::transition(zero, "sent", kNow);
  ASSERT_FALSE(sent.ok());
  EXPECT_EQ(sent.error().code, ErrorCode::kInvalidTransition);
  EXPECT_NE(sent.error().message.find("paid_cents < total_cents"), std::string::npos)
      << sent.error().message;
  EXPECT_TRUE(invoice::transition(zero, "void", kNow).ok());
  auto covered = given("Invoice", {{"status", "sent"}, {"total_cents", 0}, {"paid_cents", 0}});
  EXPECT_EQ(invoice::transition(covered, "overdue", kNow).error().code,
            ErrorCode::kInvalidTransition);
  EXPECT_TRUE(invoice::transition(covered, "paid", kNow).ok()) << "paid agrees with money";
}

TEST(Payments, PartialThenPaidThenRemovedBackToPartial) {
  auto inv = given("Invoice", {{"status", "sent"}, {"total_cents", 1000}, {"paid_cents", 0}});
  auto first = invoice::record_payment(inv, {{"id", "p1"}, {"amount_cents", 400}}, kNow);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ((*first)[0].type, "InvoicePaymentRecorded");
  evolve(inv, (*first)[0].type, (*first)[0].data, 2);
  EXPECT_EQ(inv.str("status"), "partial");
  EXPECT_EQ(inv.fields["paid_cents"], 400);

  EXPECT_EQ(invoice::record_payment(inv, {{"id", "p2"}, {"amount_cents", 601}}, kNow).error().code,
            ErrorCode::kValidation)
      << "over the balance";
  EXPECT_EQ(invoice::record_payment(inv, {{"id", "p2"}, {"amount_cents", 0}}, kNow).error().code,
            ErrorCode::kValidation);
  auto rest = invoice::record_payment(inv, {{"id", "p2"}, {"amount_cents", 600}}, kNow);
  ASSERT_TRUE(rest.ok());
  evolve(inv, (*rest)[0].type, (*rest)[0].data, 3);
  EXPECT_EQ(inv.str("status"), "paid");
  EXPECT_EQ(inv.str("paid_at"), kNow);
  EXPECT_EQ(invoice::record_payment(inv, {{"id", "p3"}, {"amount_cents", 1}}, kNow).error().code,
            ErrorCode::kInvalidTransition)
      << "nothing is recorded on a paid invoice";

  auto removed = invoice::remove_payment(inv, "p2", 600, false);
  ASSERT_TRUE(removed.ok());
  evolve(inv, (*removed)[0].type, (*removed)[0].data, 4);
  EXPECT_EQ(inv.str("status"), "partial");
  EXPECT_EQ(inv.fields["paid_cents"], 400);
  EXPECT_TRUE(inv.fields["paid_at"].is_null());

  auto all_gone = invoice::remove_payment(inv, "p1", 400, /*past_due=*/true);
  ASSERT_TRUE(all_gone.ok());
  evolve(inv, (*all_gone)[0].type, (*all_gone)[0].data, 5);
  EXPECT_EQ(inv.str("status"), "overdue") << "at zero and past due";
  EXPECT_EQ(inv.fields["paid_cents"], 0);
}

TEST(Payments, OnlyOnSentPartialOrOverdueInvoices) {
  for (const char* s : {"draft", "paid", "void"}) {
    auto inv = given("Invoice", {{"status", s}, {"total_cents", 1000}, {"paid_cents", 0}});
    EXPECT_EQ(invoice::record_payment(inv, {{"id", "p"}, {"amount_cents", 100}}, kNow).error().code,
              ErrorCode::kInvalidTransition)
        << s;
  }
  auto overdue = given("Invoice", {{"status", "overdue"}, {"total_cents", 1000}, {"paid_cents", 0}});
  auto r = invoice::record_payment(overdue, {{"id", "p"}, {"amount_cents", 100}}, kNow);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)[0].data["changes"]["status"], "partial");
}

}  // namespace
}  // namespace fsm::domain
