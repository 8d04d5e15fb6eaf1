// SQL for case files on PostgreSQL: unfinished uploads, finished files and their shares.
#include <string>

#include "store/postgres/postgres_tx.hpp"
#include "store/record_rows.hpp"

namespace tmc::store::postgres {
namespace {

std::int64_t to_sql(std::uint64_t value) { return static_cast<std::int64_t>(value); }
std::uint64_t from_sql(std::int64_t value) { return static_cast<std::uint64_t>(value); }

// ---- uploads ----

constexpr auto read_upload = &rows::read_upload<Row>;
constexpr auto read_case_file = &rows::read_case_file<Row>;

const std::string upload_select = std::string("SELECT ") + rows::upload_columns + " FROM uploads ";

// ---- case files ----

const std::string& case_file_select() {
  static const std::string sql =
      std::string("SELECT ") + rows::case_file_columns + " FROM case_files f ";
  return sql;
}

}  // namespace

void PostgresTx::insert_upload(const Upload& upload) {
  require_writable();
  auto params = Params::of(upload.id, upload.user_id, upload.organization_id);
  params.add_or_null(upload.consultation_id)
      .add(upload.file_name)
      .add(upload.media_type)
      .add(to_sql(upload.size))
      .add(Bytes{upload.sha256})
      .add(Bytes{upload.wrapped_key})
      .add(Bytes{upload.header})
      .add(to_sql(upload.committed_offset))
      .add(upload.created_at)
      .add(upload.updated_at);
  db_.query(
      "INSERT INTO uploads (id, user_id, organization_id, consultation_id, file_name, media_type,"
      " size, sha256, wrapped_key, header, committed_offset, created_at, updated_at)"
      " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
      params);
}

std::optional<Upload> PostgresTx::find_upload(std::string_view id) {
  static const std::string sql = std::string(upload_select) + "WHERE id = $1";
  return first_row<Upload>(db_.query(sql, Params::of(id)), read_upload);
}

bool PostgresTx::set_upload_progress(std::string_view id, std::uint64_t committed_offset,
                                     TimePoint updated_at) {
  require_writable();
  return db_.query("UPDATE uploads SET committed_offset = $2, updated_at = $3 WHERE id = $1",
                   Params::of(id, to_sql(committed_offset), updated_at))
             .affected() > 0;
}

bool PostgresTx::delete_upload(std::string_view id) {
  require_writable();
  return db_.query("DELETE FROM uploads WHERE id = $1", Params::of(id)).affected() > 0;
}

std::vector<Upload> PostgresTx::list_idle_uploads(TimePoint idle_before, int limit) {
  static const std::string sql =
      std::string(upload_select) + "WHERE updated_at < $1 ORDER BY updated_at LIMIT $2";
  return collect_rows<Upload>(db_.query(sql, Params::of(idle_before, limit)), read_upload);
}

std::uint64_t PostgresTx::organization_storage_bytes(std::string_view organization_id) {
  const auto result = db_.query(
      "SELECT ((SELECT coalesce(sum(size), 0) FROM case_files WHERE organization_id = $1)"
      " + (SELECT coalesce(sum(size), 0) FROM uploads WHERE organization_id = $1))::bigint",
      Params::of(organization_id));
  if (result.empty()) return 0;
  return from_sql(result.int64(0, 0));
}

std::int64_t PostgresTx::count_user_uploads(std::string_view user_id) {
  const auto result =
      db_.query("SELECT count(*) FROM uploads WHERE user_id = $1", Params::of(user_id));
  return result.empty() ? 0 : result.int64(0, 0);
}

std::optional<Upload> PostgresTx::find_open_upload_like(const Upload& declared) {
  static const std::string sql =
      std::string(upload_select) +
      "WHERE user_id = $1 AND consultation_id IS NOT DISTINCT FROM $2 AND file_name = $3"
      " AND media_type = $4 AND size = $5 AND sha256 = $6 ORDER BY created_at, id LIMIT 1";
  auto params = Params::of(declared.user_id);
  params.add_or_null(declared.consultation_id)
      .add(declared.file_name)
      .add(declared.media_type)
      .add(to_sql(declared.size))
      .add(Bytes{declared.sha256});
  return first_row<Upload>(db_.query(sql, params), read_upload);
}

void PostgresTx::insert_case_file(const CaseFile& file) {
  require_writable();
  db_.query(
      "INSERT INTO case_files (id, file_name, media_type, size, sha256, uploaded_by,"
      " organization_id, created_at, upload_id, blob_id, wrapped_key, header)"
      " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
      Params::of(file.id, file.file_name, file.media_type, to_sql(file.size), Bytes{file.sha256},
                 file.uploaded_by, file.organization_id, file.created_at, file.upload_id,
                 file.blob_id, Bytes{file.wrapped_key}, Bytes{file.header}));
}

std::optional<CaseFile> PostgresTx::find_case_file(std::string_view id) {
  static const std::string sql = case_file_select() + "WHERE f.id = $1";
  return first_row<CaseFile>(db_.query(sql, Params::of(id)), read_case_file);
}

std::optional<CaseFile> PostgresTx::find_case_file_by_upload(std::string_view upload_id) {
  static const std::string sql = case_file_select() + "WHERE f.upload_id = $1";
  return first_row<CaseFile>(db_.query(sql, Params::of(upload_id)), read_case_file);
}

bool PostgresTx::share_case_file(std::string_view file_id, std::string_view consultation_id,
                                 TimePoint shared_at) {
  require_writable();
  return db_.query(
                "INSERT INTO consultation_case_files (consultation_id, file_id, shared_at)"
                " VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                Params::of(consultation_id, file_id, shared_at))
             .affected() > 0;
}

std::vector<CaseFile> PostgresTx::list_consultation_case_files(std::string_view consultation_id) {
  static const std::string sql =
      case_file_select() +
      "JOIN consultation_case_files s ON s.file_id = f.id"
      " WHERE s.consultation_id = $1 ORDER BY s.shared_at, s.share_order";
  return collect_rows<CaseFile>(db_.query(sql, Params::of(consultation_id)), read_case_file);
}

std::vector<std::string> PostgresTx::list_case_file_consultations(std::string_view file_id) {
  return collect_rows<std::string>(
      db_.query("SELECT consultation_id FROM consultation_case_files WHERE file_id = $1"
                " ORDER BY shared_at, share_order",
                Params::of(file_id)),
      [](const Row& row) { return row.text(0); });
}

}  // namespace tmc::store::postgres
