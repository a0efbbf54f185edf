# frozen_string_literal: true

require 'json'
require 'open3'

module SalesmachineTest
  # What the server stored for one project, read straight from its SQLite file with the
  # sqlite3 command line tool (`-json`), so the test needs no gem.
  class Stored
    def initialize(db_path, project_id)
      @db_path = db_path
      @project_id = Integer(project_id)
    end

    # Rows of `sql`, where `:project` stands for the project's id and `?`s are replaced by
    # the quoted `args`.
    def rows(sql, *args)
      settled
      sql = sql.gsub(':project', @project_id.to_s)
      sql = sql.gsub('?') { quote(args.shift) }
      out, err, status = Open3.capture3('sqlite3', '-json', '-cmd', '.timeout 10000', @db_path, sql)
      raise "sqlite3 failed: #{err}" unless status.success?

      out.strip.empty? ? [] : JSON.parse(out)
    end

    # Waits until the server's projector has applied what its journal acknowledged (the journal
    # beside the database: x.db -> x.journal.sqlite), as the server's own reads do.
    def settled(timeout = 30)
      journal = @db_path.to_s.sub(/\.db\z/, '') + '.journal.sqlite'
      return unless File.exist?(journal)

      target = Integer(journal_value(journal, 'appended'))
      deadline = Time.now + timeout
      until Integer(projected_value(journal)) >= target
        raise "the projector did not apply #{journal} within #{timeout} s" if Time.now > deadline

        sleep 0.01
      end
    end

    def journal_value(journal, name)
      out, err, status = Open3.capture3('sqlite3', '-cmd', '.timeout 10000', journal,
                                        "SELECT seq FROM tally WHERE name = '#{name}'")
      raise "sqlite3 failed on #{journal}: #{err}" unless status.success?

      out.strip
    end

    # What the projector applied is in the counters file beside the journal, by journal id.
    def projected_value(journal)
      out, err, status = Open3.capture3('sqlite3', '-cmd', '.timeout 10000', journal,
                                        "ATTACH '#{journal}-counters' AS c; #{PROJECTED}")
      raise "sqlite3 failed on #{journal}: #{err}" unless status.success?

      out.strip
    end

    PROJECTED = "SELECT coalesce((SELECT seq FROM c.projected WHERE journal_id = " \
                "(SELECT value FROM meta WHERE key = 'journal_id')), 0)"

    def count(table)
      rows("SELECT count(*) AS n FROM #{table} WHERE project_id = :project").first['n']
    end

    # A contact by any of its uids: params, every uid that names it, its account uids.
    def contact(uid)
      row = rows('SELECT c.* FROM contact_uids u JOIN contacts c ON c.id = u.contact_id ' \
                 'WHERE u.project_id = :project AND u.uid = ?', uid).first
      return nil if row.nil?

      {
        'id' => row['id'],
        'params' => JSON.parse(row['params']),
        'uids' => rows('SELECT uid FROM contact_uids WHERE project_id = :project AND contact_id = ?',
                       row['id']).map { |r| r['uid'] }.sort,
        'accounts' => rows('SELECT a.account_uid FROM memberships m JOIN accounts a ON a.id = m.account_id ' \
                           'WHERE m.project_id = :project AND m.contact_id = ?', row['id'])
          .map { |r| r['account_uid'] }.sort
      }
    end

    def account(uid)
      row = rows('SELECT * FROM accounts WHERE project_id = :project AND account_uid = ?', uid).first
      return nil if row.nil?

      {
        'params' => JSON.parse(row['params']),
        'contacts' => rows('SELECT u.uid FROM memberships m JOIN contact_uids u ON u.contact_id = m.contact_id ' \
                           'WHERE m.project_id = :project AND m.account_id = ?', row['id']).map { |r| r['uid'] }.sort
      }
    end

    # Events in the order they were stored; only those of one contact when `contact_uid` is given.
    def events(contact_uid: nil)
      filter = contact_uid.nil? ? '' : ' AND c.id = (SELECT contact_id FROM contact_uids WHERE project_id = :project AND uid = ?)'
      rows('SELECT e.name, e.kind, e.params, e.occurred_at, e.message_id, c.contact_uid, a.account_uid ' \
           'FROM events e JOIN contacts c ON c.id = e.contact_id LEFT JOIN accounts a ON a.id = e.account_id ' \
           "WHERE e.project_id = :project#{filter} ORDER BY e.id", *[contact_uid].compact).map do |row|
        row.merge('params' => JSON.parse(row['params']))
      end
    end

    def message_ids
      rows('SELECT message_id FROM message_ids WHERE project_id = :project').map { |r| r['message_id'] }
    end

    private

    def quote(value)
      case value
      when Integer then value.to_s
      when nil then 'NULL'
      else "'#{value.to_s.gsub("'", "''")}'"
      end
    end
  end
end
