// Case-file requests: resumable uploads, downloads and sharing.
#include "api/handler_context.hpp"
#include "domain/case_file_service.hpp"

namespace tmc::api {
namespace {

Status unavailable() {
  return make_error(Code::unimplemented, "case files are not served by this server");
}

void fill(const domain::UploadSession& session, v1::UploadSession* out) {
  out->set_upload_id(session.upload_id);
  out->set_chunk_size(session.chunk_size);
  out->set_committed_offset(session.committed_offset);
}

// Answers with the file and delivers the notifications (after the commit).
Status reply(Context& ctx, Result<domain::Outcome<store::CaseFile>> outcome) {
  if (!outcome) return outcome.error();
  to_proto(outcome->value, ctx.response.mutable_case_file());
  ctx.api.publish(outcome->notifications);
  return ok();
}

domain::BeginUpload begin_request(const v1::BeginUploadRequest& request) {
  domain::BeginUpload out;
  out.upload_id = request.upload_id();
  out.consultation_id = request.consultation_id();
  out.file_name = request.file_name();
  out.media_type = request.media_type();
  out.size = request.size();
  out.sha256 = request.sha256();
  return out;
}

}  // namespace

Status handle_case_file(Context& ctx, const Frame& frame) {
  auto* service = ctx.api.services().case_files;
  if (service == nullptr) return unavailable();
  const auto& caller = *ctx.caller;
  switch (frame.request_case()) {
    case Frame::kBeginUpload: {
      auto session = service->begin_upload(caller, begin_request(frame.begin_upload()));
      if (!session) return session.error();
      fill(*session, ctx.response.mutable_upload_session());
      return ok();
    }
    case Frame::kUploadChunk: {
      const auto& request = frame.upload_chunk();
      auto committed =
          service->upload_chunk(caller, request.upload_id(), request.offset(), request.data());
      if (!committed) return committed.error();
      ctx.response.mutable_upload_chunk()->set_committed_offset(*committed);
      return ok();
    }
    case Frame::kFinishUpload:
      return reply(ctx, service->finish_upload(caller, frame.finish_upload().upload_id()));
    case Frame::kReadFile: {
      const auto& request = frame.read_file();
      auto chunk = service->read(caller, request.file_id(), request.offset(), request.length());
      if (!chunk) return chunk.error();
      auto* out = ctx.response.mutable_file_chunk();
      out->set_file_id(chunk->file_id);
      out->set_offset(chunk->offset);
      out->set_data(std::move(chunk->data));
      out->set_eof(chunk->eof);
      return ok();
    }
    case Frame::kShareCaseFile: {
      const auto& request = frame.share_case_file();
      return reply(ctx, service->share(caller, request.file_id(), request.consultation_id()));
    }
    case Frame::kListCaseFiles: {
      auto files = service->list(caller, frame.list_case_files().consultation_id());
      if (!files) return files.error();
      auto* result = ctx.response.mutable_list_case_files();
      for (const auto& file : *files) to_proto(file, result->add_files());
      return ok();
    }
    default:
      return make_error(Code::unimplemented, "this request is not served by this server yet");
  }
}

}  // namespace tmc::api
