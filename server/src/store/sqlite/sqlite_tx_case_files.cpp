// SQL for case files on SQLite: unfinished uploads, finished files and their shares.
#include <string>

#include "store/record_rows.hpp"
#include "store/sqlite/sqlite_tx.hpp"

namespace tmc::store::sqlite {
namespace {

std::int64_t to_sql(std::uint64_t value) { return static_cast<std::int64_t>(value); }

// ---- uploads ----

constexpr auto read_upload = &rows::read_upload<Query>;
constexpr auto read_case_file = &rows::read_case_file<Query>;

const std::string upload_select = std::string("SELECT ") + rows::upload_columns + " FROM uploads ";

// ---- case files ----

const std::string& case_file_select() {
  static const std::string sql =
      std::string("SELECT ") + rows::case_file_columns + " FROM case_files f ";
  return sql;
}

}  // namespace

void SqliteTx::insert_upload(const Upload& upload) {
  require_writable();
  auto query = db_.query(
      "INSERT INTO uploads (id, user_id, organization_id, consultation_id, file_name, media_type,"
      " size, sha256, wrapped_key, header, committed_offset, created_at, updated_at)"
      " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)");
  query.bind_all(upload.id, upload.user_id, upload.organization_id);
  query.bind_or_null(4, upload.consultation_id)
      .bind(5, upload.file_name)
      .bind(6, upload.media_type)
      .bind(7, to_sql(upload.size))
      .bind(8, Blob{upload.sha256})
      .bind(9, Blob{upload.wrapped_key})
      .bind(10, Blob{upload.header})
      .bind(11, to_sql(upload.committed_offset))
      .bind(12, upload.created_at)
      .bind(13, upload.updated_at)
      .run();
}

std::optional<Upload> SqliteTx::find_upload(std::string_view id) {
  auto query = db_.query(std::string(upload_select) + "WHERE id = ?1");
  query.bind(1, id);
  if (!query.step()) return std::nullopt;
  return read_upload(query);
}

bool SqliteTx::set_upload_progress(std::string_view id, std::uint64_t committed_offset,
                                   TimePoint updated_at) {
  require_writable();
  db_.query("UPDATE uploads SET committed_offset = ?2, updated_at = ?3 WHERE id = ?1")
      .bind_all(id, to_sql(committed_offset), updated_at)
      .run();
  return db_.changes() > 0;
}

bool SqliteTx::delete_upload(std::string_view id) {
  require_writable();
  db_.query("DELETE FROM uploads WHERE id = ?1").bind(1, id).run();
  return db_.changes() > 0;
}

std::vector<Upload> SqliteTx::list_idle_uploads(TimePoint idle_before, int limit) {
  auto query =
      db_.query(std::string(upload_select) + "WHERE updated_at < ?1 ORDER BY updated_at LIMIT ?2");
  query.bind_all(idle_before, limit);
  std::vector<Upload> uploads;
  while (query.step()) uploads.push_back(read_upload(query));
  return uploads;
}

std::uint64_t SqliteTx::organization_storage_bytes(std::string_view organization_id) {
  auto query = db_.query(
      "SELECT (SELECT coalesce(sum(size), 0) FROM case_files WHERE organization_id = ?1)"
      " + (SELECT coalesce(sum(size), 0) FROM uploads WHERE organization_id = ?1)");
  query.bind(1, organization_id);
  if (!query.step()) return 0;
  return static_cast<std::uint64_t>(query.int64(0));
}

std::int64_t SqliteTx::count_user_uploads(std::string_view user_id) {
  auto query = db_.query("SELECT count(*) FROM uploads WHERE user_id = ?1");
  query.bind(1, user_id);
  return query.step() ? query.int64(0) : 0;
}

std::optional<Upload> SqliteTx::find_open_upload_like(const Upload& declared) {
  auto query = db_.query(std::string(upload_select) +
                         "WHERE user_id = ?1 AND consultation_id IS ?2 AND file_name = ?3"
                         " AND media_type = ?4 AND size = ?5 AND sha256 = ?6"
                         " ORDER BY created_at, id LIMIT 1");
  query.bind(1, declared.user_id);
  query.bind_or_null(2, declared.consultation_id)
      .bind(3, declared.file_name)
      .bind(4, declared.media_type)
      .bind(5, to_sql(declared.size))
      .bind(6, Blob{declared.sha256});
  if (!query.step()) return std::nullopt;
  return read_upload(query);
}

void SqliteTx::insert_case_file(const CaseFile& file) {
  require_writable();
  db_.query(
         "INSERT INTO case_files (id, file_name, media_type, size, sha256, uploaded_by,"
         " organization_id, created_at, upload_id, blob_id, wrapped_key, header)"
         " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)")
      .bind_all(file.id, file.file_name, file.media_type, to_sql(file.size), Blob{file.sha256},
                file.uploaded_by, file.organization_id, file.created_at, file.upload_id,
                file.blob_id, Blob{file.wrapped_key}, Blob{file.header})
      .run();
}

std::optional<CaseFile> SqliteTx::find_case_file(std::string_view id) {
  auto query = db_.query(case_file_select() + "WHERE f.id = ?1");
  query.bind(1, id);
  if (!query.step()) return std::nullopt;
  return read_case_file(query);
}

std::optional<CaseFile> SqliteTx::find_case_file_by_upload(std::string_view upload_id) {
  auto query = db_.query(case_file_select() + "WHERE f.upload_id = ?1");
  query.bind(1, upload_id);
  if (!query.step()) return std::nullopt;
  return read_case_file(query);
}

bool SqliteTx::share_case_file(std::string_view file_id, std::string_view consultation_id,
                               TimePoint shared_at) {
  require_writable();
  db_.query(
         "INSERT INTO consultation_case_files (consultation_id, file_id, shared_at)"
         " VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING")
      .bind_all(consultation_id, file_id, shared_at)
      .run();
  return db_.changes() > 0;
}

std::vector<CaseFile> SqliteTx::list_consultation_case_files(std::string_view consultation_id) {
  auto query = db_.query(case_file_select() +
                         "JOIN consultation_case_files s ON s.file_id = f.id"
                         " WHERE s.consultation_id = ?1 ORDER BY s.shared_at, s.rowid");
  query.bind(1, consultation_id);
  std::vector<CaseFile> files;
  while (query.step()) files.push_back(read_case_file(query));
  return files;
}

std::vector<std::string> SqliteTx::list_case_file_consultations(std::string_view file_id) {
  auto query = db_.query(
      "SELECT consultation_id FROM consultation_case_files WHERE file_id = ?1"
      " ORDER BY shared_at, rowid");
  query.bind(1, file_id);
  std::vector<std::string> ids;
  while (query.step()) ids.push_back(query.text(0));
  return ids;
}

}  // namespace tmc::store::sqlite
