// tmc-client file: upload (resumable, with a progress bar), download (verified), list, share.
#include <unistd.h>

#include <boost/program_options/options_description.hpp>
#include <boost/program_options/positional_options.hpp>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <iomanip>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>

#include "cli/command.hpp"
#include "cli/consult_view.hpp"
#include "cli/context.hpp"
#include "cli/output.hpp"
#include "tmc/client/case_files.hpp"
#include "tmc/client/error.hpp"
#include "tmc/client/retry.hpp"

namespace tmc::cli {
namespace po = boost::program_options;
namespace v1 = telemed::v1;
using client::TransferProgress;

namespace {

using Clock = std::chrono::steady_clock;

std::string format_bytes(std::uint64_t bytes) {
  std::ostringstream text;
  text << std::fixed << std::setprecision(1);
  if (bytes >= (1u << 30)) {
    text << static_cast<double>(bytes) / (1u << 30) << " GiB";
  } else if (bytes >= (1u << 20)) {
    text << static_cast<double>(bytes) / (1u << 20) << " MiB";
  } else if (bytes >= (1u << 10)) {
    text << static_cast<double>(bytes) / (1u << 10) << " KiB";
  } else {
    text << bytes << " B";
  }
  return text.str();
}

std::string hex(const std::string& bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string text;
  for (const char raw : bytes) {
    const auto byte = static_cast<unsigned char>(raw);
    text += digits[byte >> 4];
    text += digits[byte & 0x0F];
  }
  return text;
}

// A media type from the file name's extension, for when --type is not given.
std::string guess_media_type(const std::filesystem::path& path) {
  std::string extension = path.extension().string();
  for (auto& c : extension) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  static const std::map<std::string, std::string> types = {
      {".dcm", "application/dicom"}, {".pdf", "application/pdf"},  {".png", "image/png"},
      {".jpg", "image/jpeg"},        {".jpeg", "image/jpeg"},      {".mp4", "video/mp4"},
      {".txt", "text/plain"},        {".json", "application/json"}};
  const auto it = types.find(extension);
  return it == types.end() ? "application/octet-stream" : it->second;
}

// Progress on standard error: one redrawn bar on a terminal, else a line per tenth and per
// reconnect (so logs stay readable). Speed counts only the bytes moved since this run started.
class ProgressBar {
 public:
  ProgressBar(std::ostream& err, std::string label)
      : err_(err), label_(std::move(label)), terminal_(is_terminal(err)) {}

  ~ProgressBar() {
    if (terminal_ && drawn_) err_ << '\n';
  }

  void operator()(const TransferProgress& progress) {
    const auto now = Clock::now();
    if (progress.stage == TransferProgress::Stage::reconnecting) {
      end_line();
      err_ << label_ << (reconnecting_ ? ": reconnect failed (" : ": connection lost (")
           << progress.reason << "); reconnecting at " << percent(progress) << "%\n";
      reconnecting_ = true;
      return;
    }
    if (progress.stage == TransferProgress::Stage::retrying) {
      end_line();
      err_ << label_ << ": server unavailable (" << progress.reason << "); retrying at "
           << percent(progress) << "%\n";
      return;
    }
    reconnecting_ = false;
    if (progress.stage != stage_) {
      end_line();
      stage_ = progress.stage;
      last_tenth_ = -1;
    }
    if (stage_ == TransferProgress::Stage::transferring && !started_) {
      started_ = now;
      start_bytes_ = progress.done;
    }
    const bool finished = progress.total > 0 && progress.done >= progress.total;
    if (terminal_) {
      if (!finished && drawn_ && now - last_draw_ < std::chrono::milliseconds(100)) return;
      err_ << '\r' << line(progress, now) << "\x1b[K" << std::flush;
      drawn_ = true;
      last_draw_ = now;
      return;
    }
    const int tenth = percent(progress) / 10;
    if (tenth == last_tenth_) return;
    last_tenth_ = tenth;
    err_ << line(progress, now) << '\n';
  }

 private:
  static bool is_terminal(const std::ostream& stream) {
    return &stream == &std::cerr && ::isatty(STDERR_FILENO) == 1;
  }

  static int percent(const TransferProgress& progress) {
    if (progress.total == 0) return 0;
    return static_cast<int>(progress.done * 100 / progress.total);
  }

  void end_line() {
    if (terminal_ && drawn_) err_ << '\n';
    drawn_ = false;
  }

  std::string line(const TransferProgress& progress, Clock::time_point now) const {
    std::ostringstream text;
    const int shown = percent(progress);
    text << label_ << ' ';
    switch (progress.stage) {
      case TransferProgress::Stage::hashing:
        text << "hashing ";
        break;
      case TransferProgress::Stage::verifying:
        text << "verifying ";
        break;
      default:
        break;
    }
    if (terminal_) {
      constexpr int width = 30;
      const int filled = shown * width / 100;
      text << '[' << std::string(static_cast<std::size_t>(filled), '#')
           << std::string(static_cast<std::size_t>(width - filled), '.') << "] ";
    }
    text << std::setw(3) << shown << "% " << format_bytes(progress.done) << " of "
         << format_bytes(progress.total);
    if (progress.stage == TransferProgress::Stage::transferring && started_) {
      const double seconds = std::chrono::duration<double>(now - *started_).count();
      const auto moved = progress.done - std::min(progress.done, start_bytes_);
      if (seconds > 0.0 && moved > 0) {
        const double rate = static_cast<double>(moved) / seconds;
        const auto eta = static_cast<long long>(
            static_cast<double>(progress.total - std::min(progress.total, progress.done)) / rate);
        text << std::fixed << std::setprecision(1) << "  " << rate / 1e6 << " MB/s  ETA "
             << eta / 60 << ':' << std::setw(2) << std::setfill('0') << eta % 60;
      }
    }
    if (progress.reconnects > 0) text << "  (resumed " << progress.reconnects << "x)";
    return text.str();
  }

  std::ostream& err_;
  std::string label_;
  bool terminal_;
  bool drawn_ = false;
  bool reconnecting_ = false;  // the last report was a failed connection
  std::optional<TransferProgress::Stage> stage_;
  int last_tenth_ = -1;
  Clock::time_point last_draw_{};
  std::optional<Clock::time_point> started_;
  std::uint64_t start_bytes_ = 0;
};

// Transfers over the context's connection; after a failure it reconnects and resumes the
// stored session. A resume the server answers UNAVAILABLE (its storage away for a moment) is a
// reconnect that failed, retried after the transfer's back-off; other refusals end the transfer.
client::CaseFileClient file_client(CommandContext& context) {
  return client::CaseFileClient([&context](bool reconnect) -> client::BlockingClient& {
    if (reconnect) {
      context.disconnect();
      try {
        context.resume_session();
      } catch (const StatusError& e) {
        if (!client::is_transient(e.status())) throw;
        throw client::ClientError(client::errc::server_unavailable,
                                  "resuming the session: " + describe_status(e.status()));
      }
    }
    return context.connect();
  });
}

template <class T>
T take(client::Reply<T> reply) {
  if (!reply) throw StatusError(std::move(reply.status));
  return std::move(reply.value);
}

void print_file_line(std::ostream& out, const std::string& verb, const v1::CaseFile& file) {
  out << verb << ' ' << file.file_name() << " (" << format_bytes(file.size()) << ", "
      << file.media_type() << ") as " << file.id() << "\nsha256 " << hex(file.sha256()) << '\n';
}

int run_upload(CommandContext& context, const std::vector<std::string>& args) {
  po::options_description options("file upload");
  options.add_options()("path", po::value<std::string>()->required(), "file to upload")(
      "consultation", po::value<std::string>(), "share with this consultation")(
      "name", po::value<std::string>(), "file name shown to readers (default: PATH's)")(
      "type", po::value<std::string>(), "media type (default: from the extension)")(
      "print-id", po::bool_switch(), "print only the new file's id");
  po::positional_options_description positional;
  positional.add("path", 1);
  const auto vm = parse_command_options(args, options, positional);

  const std::filesystem::path path = vm["path"].as<std::string>();
  client::UploadDetails details;
  details.file_name = vm.count("name") ? vm["name"].as<std::string>() : std::string();
  details.media_type = vm.count("type") ? vm["type"].as<std::string>() : guess_media_type(path);
  details.consultation_id =
      vm.count("consultation") ? vm["consultation"].as<std::string>() : std::string();

  context.resume_session();
  auto files = file_client(context);
  v1::CaseFile file;
  {
    ProgressBar bar(context.err(), "upload " + path.filename().string());
    file = take(files.upload(path, details, std::ref(bar)));
  }
  if (vm["print-id"].as<bool>()) {
    context.out() << file.id() << '\n';
  } else if (context.json()) {
    print_json(context.out(), file);
  } else {
    print_file_line(context.out(), "uploaded", file);
  }
  // The server keeps the file but shares it only if the consultation still takes files: one
  // that ended while a long upload ran does not, and the uploader must hear of it.
  if (!details.consultation_id.empty()) {
    const auto shared = files.find(file.id(), details.consultation_id);
    if (shared.status.code() == v1::NOT_FOUND) {
      throw CommandError("uploaded as " + file.id() + " but not shared with consultation " +
                         details.consultation_id +
                         ", which no longer takes files (it ended during the upload); share "
                         "it with another: tmc-client file share " +
                         file.id() + " --consultation ID");
    }
    if (!shared) {
      context.err() << "warning: could not check that the file is shared: "
                    << describe_status(shared.status) << '\n';
    }
  }
  return 0;
}

int run_download(CommandContext& context, const std::vector<std::string>& args) {
  po::options_description options("file download");
  options.add_options()("id", po::value<std::string>()->required(), "case file id")(
      "output,o", po::value<std::string>()->required(), "where to write the file")(
      "consultation", po::value<std::string>(),
      "a consultation the file is shared with (faster lookup)");
  po::positional_options_description positional;
  positional.add("id", 1);
  const auto vm = parse_command_options(args, options, positional);

  context.resume_session();
  auto files = file_client(context);
  const v1::CaseFile file = take(
      files.find(vm["id"].as<std::string>(),
                 vm.count("consultation") ? vm["consultation"].as<std::string>() : std::string()));
  const std::filesystem::path output = vm["output"].as<std::string>();
  {
    ProgressBar bar(context.err(), "download " + file.file_name());
    take(files.download(file, output, std::ref(bar)));
  }
  if (context.json()) {
    print_json(context.out(), file);
  } else {
    context.out() << "downloaded " << file.file_name() << " (" << format_bytes(file.size())
                  << ") to " << output.string() << "; SHA-256 verified\n";
  }
  return 0;
}

int run_list(CommandContext& context, const std::vector<std::string>& args) {
  po::options_description options("file list");
  options.add_options()("consultation", po::value<std::string>()->required(), "consultation id");
  const auto vm = parse_command_options(args, options);

  context.resume_session();
  auto files = file_client(context);
  const auto result = take(files.list(vm["consultation"].as<std::string>()));
  if (context.json()) {
    print_json(context.out(), result);
    return 0;
  }
  if (result.files().empty()) {
    context.out() << "no case files\n";
    return 0;
  }
  Table table({"ID", "NAME", "TYPE", "SIZE", "ORGANIZATION", "UPLOADED"});
  for (const auto& file : result.files()) {
    table.add_row({file.id(), file.file_name(), file.media_type(), format_bytes(file.size()),
                   file.organization_id(), format_time(file.created_at())});
  }
  table.print(context.out());
  return 0;
}

int run_share(CommandContext& context, const std::vector<std::string>& args) {
  po::options_description options("file share");
  options.add_options()("id", po::value<std::string>()->required(), "case file id")(
      "consultation", po::value<std::string>()->required(), "consultation id");
  po::positional_options_description positional;
  positional.add("id", 1);
  const auto vm = parse_command_options(args, options, positional);

  context.resume_session();
  auto files = file_client(context);
  const v1::CaseFile file =
      take(files.share(vm["id"].as<std::string>(), vm["consultation"].as<std::string>()));
  if (context.json()) {
    print_json(context.out(), file);
  } else {
    context.out() << "shared " << file.file_name() << " (" << file.id() << ") with consultation "
                  << vm["consultation"].as<std::string>() << '\n';
  }
  return 0;
}

struct FileSubcommand {
  std::string_view name;
  std::string_view synopsis;
  CommandFunction run;
};

constexpr FileSubcommand subcommands[] = {
    {"upload", "PATH [--consultation ID] [--name NAME] [--type MEDIA] [--print-id]", run_upload},
    {"download", "ID -o PATH [--consultation ID]", run_download},
    {"list", "--consultation ID", run_list},
    {"share", "ID --consultation ID", run_share},
};

}  // namespace

std::string file_help() {
  std::string text = "subcommands:\n";
  for (const auto& subcommand : subcommands) {
    text +=
        "  file " + std::string(subcommand.name) + ' ' + std::string(subcommand.synopsis) + '\n';
  }
  text +=
      "uploads and downloads resume by themselves, after a wait that doubles each time, when the\n"
      "connection drops or the server answers UNAVAILABLE; an upload continues from the bytes the\n"
      "server has stored. A download is written to PATH only after its SHA-256 matches the\n"
      "server's. An upload with --consultation whose consultation ended meanwhile is kept\n"
      "unshared, and the command says so and exits 1.\n";
  return text;
}

int run_file(CommandContext& context, const std::vector<std::string>& args) {
  if (args.empty()) throw UsageError("file: missing subcommand (upload, download, list, share)");
  for (const auto& subcommand : subcommands) {
    if (args[0] == subcommand.name) {
      return subcommand.run(context, std::vector<std::string>(args.begin() + 1, args.end()));
    }
  }
  throw UsageError("file: unknown subcommand \"" + args[0] + "\"");
}

}  // namespace tmc::cli
