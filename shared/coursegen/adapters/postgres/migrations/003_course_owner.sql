-- Courses belong to the principal (tenant) that asked for them; reads filter by it.
ALTER TABLE courses ADD COLUMN owner text NOT NULL DEFAULT 'local';
CREATE INDEX courses_owner_newest_first ON courses (owner, created_at DESC, course_id DESC);
