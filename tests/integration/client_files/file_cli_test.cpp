// tmc-client file upload, list, share and download end to end against a real server.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <random>
#include <sstream>
#include <string>
#include <utility>

#include "cli_fixture.hpp"

namespace tmc::testing {
namespace {

std::string random_bytes(std::size_t size, unsigned seed) {
  std::mt19937 generator(seed);
  std::string data(size, '\0');
  for (auto& byte : data) byte = static_cast<char>(generator() & 0xffu);
  return data;
}

std::string read_whole(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

class FileCli : public CliTest {
 protected:
  TempDir files_;
};

TEST_F(FileCli, UploadListDownloadAndShare) {
  const std::string consultation = accepted_emergency();

  const auto data = random_bytes((2u << 20) + 321, 7);
  const auto source = files_.path() / "tibia-ap.dcm";
  {
    std::ofstream out(source, std::ios::binary);
    out.write(data.data(), static_cast<std::streamsize>(data.size()));
  }

  const auto uploaded = run_as("bachu.clinician", {"file", "upload", source.string(),
                                                   "--consultation", consultation, "--print-id"});
  ASSERT_EQ(uploaded.exit_code, 0) << uploaded.err;
  const std::string file_id = printed_id(uploaded);
  // Not a terminal: plain progress lines, the last one complete.
  EXPECT_NE(uploaded.err.find("upload tibia-ap.dcm hashing"), std::string::npos) << uploaded.err;
  EXPECT_NE(uploaded.err.find("100% 2.0 MiB of 2.0 MiB"), std::string::npos) << uploaded.err;
  EXPECT_EQ(uploaded.err.find('\r'), std::string::npos);

  const auto listed = run_as("shanghai.ortho", {"file", "list", "--consultation", consultation});
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_NE(listed.out.find(file_id), std::string::npos) << listed.out;
  EXPECT_NE(listed.out.find("tibia-ap.dcm"), std::string::npos) << listed.out;
  EXPECT_NE(listed.out.find("application/dicom"), std::string::npos) << listed.out;

  // The specialist downloads it without naming the consultation; the copy is identical.
  const auto copy = files_.path() / "copy.dcm";
  const auto downloaded =
      run_as("shanghai.ortho", {"file", "download", file_id, "-o", copy.string()});
  ASSERT_EQ(downloaded.exit_code, 0) << downloaded.err;
  EXPECT_NE(downloaded.out.find("SHA-256 verified"), std::string::npos) << downloaded.out;
  EXPECT_TRUE(read_whole(copy) == data);

  // A second file, uploaded unshared and then shared, shows up second in the list.
  const auto note = files_.path() / "labs.pdf";
  std::ofstream(note, std::ios::binary) << "potassium 5.9 mmol/L";
  const auto second = run_as("bachu.clinician", {"file", "upload", note.string(), "--name",
                                                 "labs 2026-05-01.pdf", "--print-id"});
  ASSERT_EQ(second.exit_code, 0) << second.err;
  const std::string second_id = printed_id(second);
  const auto shared =
      run_as("bachu.clinician", {"file", "share", second_id, "--consultation", consultation});
  ASSERT_EQ(shared.exit_code, 0) << shared.err;
  const auto json =
      run_as("shanghai.ortho", {"--json", "file", "list", "--consultation", consultation});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  const auto first_at = json.out.find(file_id);
  const auto second_at = json.out.find(second_id);
  ASSERT_NE(second_at, std::string::npos) << json.out;
  EXPECT_LT(first_at, second_at);
  EXPECT_NE(json.out.find("\"media_type\": \"application/pdf\""), std::string::npos) << json.out;
}

// Standard error that runs a callback, once, when a complete line containing `trigger` is
// written to it: a test acts at a known point of a command (e.g. once an upload has begun).
class ErrorLineHook : public std::stringbuf {
 public:
  ErrorLineHook(std::string trigger, std::function<void()> action)
      : trigger_(std::move(trigger)), action_(std::move(action)) {}

 protected:
  std::streamsize xsputn(const char* text, std::streamsize count) override {
    const auto written = std::stringbuf::xsputn(text, count);
    check();
    return written;
  }
  int_type overflow(int_type c) override {
    const auto result = std::stringbuf::overflow(c);
    check();
    return result;
  }

 private:
  void check() {
    if (!action_) return;
    const auto text = str();
    const auto at = text.find(trigger_);
    if (at != std::string::npos && text.find('\n', at) != std::string::npos) {
      std::exchange(action_, nullptr)();
    }
  }

  std::string trigger_;
  std::function<void()> action_;
};

// A consultation that ends while a file is uploaded to it does not get the file: the server
// keeps it unshared, and the uploader is told so (exit 1) with the id to share it elsewhere.
TEST_F(FileCli, AnUploadIntoAConsultationThatEndedMeanwhileIsReportedUnshared) {
  login("bachu.clinician");
  const std::string consultation = open_emergency();
  const auto source = files_.path() / "ct-head.dcm";
  {
    const auto data = random_bytes((1u << 20) + 17, 11);
    std::ofstream out(source, std::ios::binary);
    out.write(data.data(), static_cast<std::streamsize>(data.size()));
  }
  // The first progress line after the hashing comes once the upload has begun, before a chunk
  // is sent: the requester cancels the consultation then.
  ErrorLineHook hook("upload ct-head.dcm   0%", [&] {
    const auto cancelled = run_as("bachu.clinician", {"consult", "cancel", consultation});
    EXPECT_EQ(cancelled.exit_code, 0) << cancelled.err;
  });
  std::ostream err(&hook);
  const auto uploaded = run_as("bachu.clinician",
                               {"file", "upload", source.string(), "--consultation", consultation,
                                "--print-id"},
                               {}, err);
  err.flush();
  const auto message = hook.str();
  EXPECT_EQ(uploaded.exit_code, 1) << message;
  const std::string file_id = printed_id(uploaded);
  EXPECT_NE(message.find("uploaded as " + file_id + " but not shared with consultation " +
                         consultation),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("tmc-client file share " + file_id), std::string::npos) << message;
  const auto listed =
      run_as("bachu.clinician", {"file", "list", "--consultation", consultation});
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_EQ(listed.out.find(file_id), std::string::npos) << listed.out;
}

TEST_F(FileCli, RefusalsAndMistakesExitWithClearMessages) {
  login("bachu.clinician");
  const auto missing =
      run_as("bachu.clinician", {"file", "upload", (files_.path() / "absent.dcm").string()});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("cannot open"), std::string::npos) << missing.err;

  const auto unknown = run_as("bachu.clinician", {"file", "download", "no-such-file", "-o",
                                                  (files_.path() / "x").string()});
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_NE(unknown.err.find("NOT_FOUND"), std::string::npos) << unknown.err;
  EXPECT_FALSE(std::filesystem::exists(files_.path() / "x"));

  const auto no_output = run_as("bachu.clinician", {"file", "download", "some-id"});
  EXPECT_EQ(no_output.exit_code, 64) << no_output.err;
  EXPECT_EQ(run_as("bachu.clinician", {"file", "rename"}).exit_code, 64);
}

}  // namespace
}  // namespace tmc::testing
