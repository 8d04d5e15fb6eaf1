// tmc-bench: load generator for tmc and for plain WebSocket echo servers (the peers).
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

#include <boost/program_options.hpp>

#include "json_writer.hpp"
#include "scenarios.hpp"

namespace po = boost::program_options;
using namespace tmc::bench;

namespace {

std::vector<double> parse_list(const std::string& text) {
  std::vector<double> values;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    if (!item.empty()) values.push_back(std::stod(item));
  }
  return values;
}

std::vector<BenchUser> read_users(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read users file " + path);
  std::vector<BenchUser> users;
  BenchUser user;
  while (in >> user.role >> user.username >> user.password) users.push_back(user);
  return users;
}

void write_json(JsonWriter& json, const ScenarioResult& result) {
  json.begin_object();
  json.string("scenario", result.scenario).string("label", result.label);
  if (!result.error.empty()) json.string("error", result.error);
  json.begin_object("settings");
  for (const auto& [key, value] : result.settings) json.string(key, value);
  json.end_object();
  json.begin_array("phases");
  for (const auto& phase : result.phases) {
    json.begin_object();
    json.string("name", phase.name).string("mode", phase.mode);
    if (phase.offered_rate > 0) json.number("offered_rate", phase.offered_rate);
    json.number("seconds", phase.seconds)
        .integer("operations", static_cast<long long>(phase.operations))
        .integer("errors", static_cast<long long>(phase.errors))
        .number("rate", phase.rate())
        .number("server_cpu_seconds", phase.server_cpu_seconds)
        .number("operations_per_server_cpu_second", phase.per_server_cpu_second())
        .number("client_cpu_seconds", phase.client_cpu_seconds)
        .number("server_rss_kib_before", phase.server_rss_kib_before)
        .number("server_rss_kib_after", phase.server_rss_kib_after);
    if (phase.latency.count() > 0) {
      const auto us = [](std::uint64_t ns) { return static_cast<double>(ns) / 1000.0; };
      json.begin_object("latency_us")
          .integer("count", static_cast<long long>(phase.latency.count()))
          .number("mean", phase.latency.mean() / 1000.0)
          .number("p50", us(phase.latency.quantile(0.50)))
          .number("p90", us(phase.latency.quantile(0.90)))
          .number("p99", us(phase.latency.quantile(0.99)))
          .number("p99_9", us(phase.latency.quantile(0.999)))
          .number("max", us(phase.latency.max()))
          .end_object();
    }
    for (const auto& [key, value] : phase.figures) json.number(key, value);
    if (!phase.server_thread_cpu_seconds.empty()) {
      json.begin_object("server_thread_cpu_seconds");
      for (const auto& [name, seconds] : phase.server_thread_cpu_seconds) {
        json.number(name, seconds);
      }
      json.end_object();
    }
    json.end_object();
  }
  json.end_array();
  json.end_object();
}

// One line: each server thread name's share of the phase's server CPU, from 1% up.
void print_thread_shares(const PhaseResult& phase) {
  double total = 0;
  for (const auto& [name, seconds] : phase.server_thread_cpu_seconds) total += seconds;
  if (total <= 0) return;
  std::printf("    server CPU by thread:");
  double rest = 0;
  for (const auto& [name, seconds] : phase.server_thread_cpu_seconds) {
    const double percent = 100.0 * seconds / total;
    if (percent >= 1.0) {
      std::printf(" %s %.0f%%", name.c_str(), percent);
    } else {
      rest += percent;
    }
  }
  if (rest >= 0.1) std::printf(" others %.1f%%", rest);
  std::printf("\n");
}

void print_table(const ScenarioResult& result) {
  std::printf("\n%s%s%s\n", result.scenario.c_str(), result.label.empty() ? "" : " / ",
              result.label.c_str());
  for (const auto& [key, value] : result.settings) std::printf("  %s=%s", key.c_str(), value.c_str());
  std::printf("\n%-26s %10s %9s %6s %8s %11s %8s %8s %8s %8s %9s\n", "phase", "rate/s", "ops",
              "errors", "srv-cpu", "ops/srv-cpu", "p50 ms", "p99 ms", "p99.9 ms", "max ms",
              "rss MiB");
  for (const auto& phase : result.phases) {
    const auto ms = [](std::uint64_t ns) { return static_cast<double>(ns) / 1e6; };
    std::printf("%-26s %10.0f %9llu %6llu %8.2f %11.0f", phase.name.c_str(), phase.rate(),
                static_cast<unsigned long long>(phase.operations),
                static_cast<unsigned long long>(phase.errors), phase.server_cpu_seconds,
                phase.per_server_cpu_second());
    if (phase.latency.count() > 0) {
      std::printf(" %8.3f %8.3f %8.3f %8.3f", ms(phase.latency.quantile(0.5)),
                  ms(phase.latency.quantile(0.99)), ms(phase.latency.quantile(0.999)),
                  ms(phase.latency.max()));
    } else {
      std::printf(" %8s %8s %8s %8s", "-", "-", "-", "-");
    }
    std::printf(" %9.1f\n", phase.server_rss_kib_after / 1024.0);
    for (const auto& [key, value] : phase.figures) {
      if (value != 0) std::printf("    %s = %.6g\n", key.c_str(), value);
    }
    print_thread_shares(phase);
  }
  if (!result.error.empty()) std::printf("  ERROR: %s\n", result.error.c_str());
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  std::string users_file, json_file, fractions, rates, participants;
  int server_pid = 0;
  po::options_description desc(
      "usage: tmc-bench SCENARIO [options]\n"
      "scenarios: echo (any WebSocket echo server), chat, fanout, slow-consumer, connections,\n"
      "upload (tmc), disk-sync (no server)\n\n"
      "options");
  desc.add_options()("help,h", "show this help")(
      "scenario", po::value(&options.scenario),
      "echo | chat | fanout | slow-consumer | connections | upload | disk-sync")(
      "label", po::value(&options.label), "name of this run in the output")(
      "target", po::value(&options.target)->default_value(options.target), "ADDRESS:PORT")(
      "host", po::value(&options.host)->default_value(options.host), "SNI and Host header")(
      "path", po::value(&options.path)->default_value(options.path), "WebSocket path")(
      "subprotocol", po::value(&options.subprotocol)->default_value(options.subprotocol),
      "requested subprotocol (\"\" for none)")(
      "ca", po::value(&options.ca_file), "verify the server certificate against this CA")(
      "server-pid", po::value(&server_pid), "server process to read CPU and RSS of")(
      "source-addresses", po::value(&options.source_addresses)->default_value(8),
      "connect from 127.0.0.1 .. 127.0.0.N")(
      "connections", po::value(&options.connections)->default_value(options.connections),
      "echo: connections; connections: idle sessions")(
      "pairs", po::value(&options.pairs)->default_value(options.pairs), "chat: pairs")(
      "window", po::value(&options.window)->default_value(options.window),
      "closed loop: messages in flight per connection or pair")(
      "size", po::value(&options.message_bytes)->default_value(options.message_bytes),
      "echo payload / chat text bytes")(
      "warmup", po::value(&options.warmup_seconds)->default_value(options.warmup_seconds),
      "seconds before each measured phase")(
      "duration", po::value(&options.duration_seconds)->default_value(options.duration_seconds),
      "seconds of each measured phase")(
      "open-loop-fractions", po::value(&fractions),
      "after the closed loop, fixed-rate phases at these fractions of its rate, e.g. 0.5,0.9")(
      "open-loop-rates", po::value(&rates), "fixed-rate phases at these messages/s")(
      "no-closed-loop", "skip the closed-loop phase")(
      "handshake-concurrency",
      po::value(&options.handshake_concurrency)->default_value(options.handshake_concurrency),
      "connections: handshakes in flight")(
      "resumed", po::value(&options.resumed_connections)->default_value(1000),
      "connections: second wave resuming TLS sessions; echo: handshakes measured first")(
      "settle", po::value(&options.settle_seconds)->default_value(2),
      "connections: seconds the sessions are held idle (server CPU measured) before RSS is read")(
      "sign-ins", po::value(&options.sign_ins)->default_value(options.sign_ins),
      "connections: distinct session tokens (sign-ins before the waves, cycling through the "
      "users; real clients each hold their own)")(
      "uploads", po::value(&options.uploads)->default_value(1), "upload: concurrent files")(
      "upload-mib", po::value<std::uint64_t>()->default_value(64), "upload: MiB per file")(
      "chunk-kib", po::value<std::size_t>()->default_value(256), "upload: chunk size")(
      "specialty", po::value(&options.specialty)->default_value(options.specialty),
      "chat: specialty of the consultations")(
      "summary-bytes", po::value(&options.summary_bytes)->default_value(0),
      "chat, fanout, slow-consumer: clinical summary bytes of each consultation (at most 65536)")(
      "participants", po::value(&participants)->default_value("2,10,50"),
      "fanout: consultation sizes, sender included")(
      "sessions", po::value(&options.sessions)->default_value(options.sessions),
      "slow-consumer: sessions, stalled ones included")(
      "slow-percent", po::value(&options.slow_percent)->default_value(options.slow_percent),
      "slow-consumer: percentage of the sessions that stop reading")(
      "server-queue-bytes", po::value(&options.server_queue_bytes),
      "slow-consumer: the server's --outbound-queue-bytes (for the RSS bound)")(
      "stalled-rcvbuf",
      po::value(&options.stalled_receive_buffer)->default_value(options.stalled_receive_buffer),
      "slow-consumer: SO_RCVBUF of the stalled sessions (0: kernel default)")(
      "dir", po::value(&options.directory), "disk-sync: directory on the disk to measure")(
      "users", po::value(&users_file), "file of 'ROLE USERNAME PASSWORD' lines")(
      "json", po::value(&json_file), "append the result as one JSON line to this file");
  po::positional_options_description positional;
  positional.add("scenario", 1);
  try {
    po::variables_map vm;
    po::store(po::command_line_parser(argc, argv).options(desc).positional(positional).run(), vm);
    po::notify(vm);
    if (vm.count("help") || options.scenario.empty()) {
      std::cout << desc << '\n';
      return vm.count("help") ? 0 : 2;
    }
    options.server_pid = server_pid;
    options.open_loop_fractions = parse_list(fractions);
    options.open_loop_rates = parse_list(rates);
    options.participants.clear();
    for (const double size : parse_list(participants)) {
      if (size < 2 || size != static_cast<double>(static_cast<std::size_t>(size))) {
        throw std::runtime_error("--participants takes whole numbers of at least 2");
      }
      options.participants.push_back(static_cast<std::size_t>(size));
    }
    options.closed_loop = vm.count("no-closed-loop") == 0;
    options.upload_bytes = vm["upload-mib"].as<std::uint64_t>() << 20;
    options.chunk_bytes = vm["chunk-kib"].as<std::size_t>() << 10;
    if (!users_file.empty()) options.users = read_users(users_file);

    ScenarioResult result;
    if (options.scenario == "echo") {
      result = run_echo(options);
    } else if (options.scenario == "chat") {
      result = run_chat(options);
    } else if (options.scenario == "fanout") {
      result = run_fanout(options);
    } else if (options.scenario == "slow-consumer") {
      result = run_slow_consumer(options);
    } else if (options.scenario == "connections") {
      result = run_connections(options);
    } else if (options.scenario == "upload") {
      result = run_upload(options);
    } else if (options.scenario == "disk-sync") {
      result = run_disk_sync(options);
    } else {
      std::cerr << "tmc-bench: unknown scenario " << options.scenario << '\n';
      return 2;
    }
    print_table(result);
    if (!json_file.empty()) {
      JsonWriter json;
      write_json(json, result);
      std::ofstream out(json_file, std::ios::app);
      out << json.text() << '\n';
      if (!out) throw std::runtime_error("cannot write " + json_file);
    }
    return result.error.empty() ? 0 : 1;
  } catch (const std::exception& error) {
    std::cerr << "tmc-bench: " << error.what() << '\n';
    return 2;
  }
}
