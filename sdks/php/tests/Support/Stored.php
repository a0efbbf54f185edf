<?php

declare(strict_types=1);

namespace Salesmachine\Tests\Support;

/**
 * What the server stored for one project, read straight from its SQLite file with the
 * sqlite3 command line tool (`-json`), so the test needs no PHP extension for it.
 */
final class Stored
{
    public function __construct(private readonly string $dbPath, private readonly int $projectId)
    {
    }

    /**
     * Rows of `sql`, where `:project` stands for the project's id and each `?` for the next
     * of `args`, quoted.
     *
     * @return list<array<string, mixed>>
     */
    public function rows(string $sql, mixed ...$args): array
    {
        $this->settled();
        $sql = str_replace(':project', (string) $this->projectId, $sql);
        $sql = preg_replace_callback('/\?/', static function () use (&$args): string {
            $value = array_shift($args);
            return is_int($value) ? (string) $value : "'" . str_replace("'", "''", (string) $value) . "'";
        }, $sql);
        $out = Process::run(['sqlite3', '-json', '-cmd', '.timeout 10000', $this->dbPath, $sql]);
        return trim($out) === '' ? [] : json_decode($out, true, flags: JSON_THROW_ON_ERROR);
    }

    /**
     * Waits until the server's projector has applied what its journal acknowledged (the journal
     * beside the database: x.db -> x.journal.sqlite), as the server's own reads do.
     */
    public function settled(float $timeout = 30.0): void
    {
        $journal = preg_replace('/\.db$/', '', $this->dbPath) . '.journal.sqlite';
        if (!file_exists($journal)) {
            return;
        }
        $target = (int) trim(Process::run(['sqlite3', '-cmd', '.timeout 10000', $journal,
            "SELECT seq FROM tally WHERE name = 'appended'"]));
        $deadline = microtime(true) + $timeout;
        // What the projector applied is in the counters file beside the journal, by journal id.
        $projected = "ATTACH '{$journal}-counters' AS c; SELECT coalesce((SELECT seq FROM c.projected "
            . "WHERE journal_id = (SELECT value FROM meta WHERE key = 'journal_id')), 0)";
        while ((int) trim(Process::run(['sqlite3', '-cmd', '.timeout 10000', $journal, $projected])) < $target) {
            if (microtime(true) > $deadline) {
                throw new \RuntimeException("the projector did not apply {$journal} within {$timeout} s");
            }
            usleep(10000);
        }
    }

    public function count(string $table): int
    {
        return (int) $this->rows("SELECT count(*) AS n FROM {$table} WHERE project_id = :project")[0]['n'];
    }

    /** A contact by any of its uids: params, every uid that names it, its account uids. */
    public function contact(string $uid): ?array
    {
        $row = $this->rows('SELECT c.* FROM contact_uids u JOIN contacts c ON c.id = u.contact_id '
            . 'WHERE u.project_id = :project AND u.uid = ?', $uid)[0] ?? null;
        if ($row === null) {
            return null;
        }
        $uids = array_column($this->rows('SELECT uid FROM contact_uids WHERE project_id = :project AND contact_id = ?',
            $row['id']), 'uid');
        $accounts = array_column($this->rows('SELECT a.account_uid FROM memberships m JOIN accounts a ON a.id = m.account_id '
            . 'WHERE m.project_id = :project AND m.contact_id = ?', $row['id']), 'account_uid');
        sort($uids, SORT_STRING);
        sort($accounts, SORT_STRING);
        return ['id' => $row['id'], 'params' => json_decode($row['params'], true), 'uids' => $uids, 'accounts' => $accounts];
    }

    public function account(string $uid): ?array
    {
        $row = $this->rows('SELECT * FROM accounts WHERE project_id = :project AND account_uid = ?', $uid)[0] ?? null;
        if ($row === null) {
            return null;
        }
        $contacts = array_column($this->rows('SELECT u.uid FROM memberships m JOIN contact_uids u ON u.contact_id = m.contact_id '
            . 'WHERE m.project_id = :project AND m.account_id = ?', $row['id']), 'uid');
        sort($contacts, SORT_STRING);
        return ['params' => json_decode($row['params'], true), 'contacts' => $contacts];
    }

    /**
     * Events in the order they were stored; only one contact's when `contactUid` is given.
     *
     * @return list<array<string, mixed>>
     */
    public function events(?string $contactUid = null): array
    {
        $filter = $contactUid === null ? ''
            : ' AND c.id = (SELECT contact_id FROM contact_uids WHERE project_id = :project AND uid = ?)';
        $rows = $this->rows('SELECT e.name, e.kind, e.params, e.occurred_at, e.message_id, c.contact_uid, a.account_uid '
            . 'FROM events e JOIN contacts c ON c.id = e.contact_id LEFT JOIN accounts a ON a.id = e.account_id '
            . "WHERE e.project_id = :project{$filter} ORDER BY e.id", ...($contactUid === null ? [] : [$contactUid]));
        return array_map(static fn (array $r) => ['params' => json_decode($r['params'], true)] + $r, $rows);
    }

    /** @return list<string> */
    public function messageIds(): array
    {
        return array_column($this->rows('SELECT message_id FROM message_ids WHERE project_id = :project'), 'message_id');
    }
}
