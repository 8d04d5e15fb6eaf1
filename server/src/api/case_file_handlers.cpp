// Case-file requests: resumable uploads, downloads and sharing.
#include "api/handler_context.hpp"

namespace tmc::api {

Status handle_case_file(Context&, const Frame&) {
  return make_error(Code::unimplemented, "this request is not served by this server yet");
}

}  // namespace tmc::api
