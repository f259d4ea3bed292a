//! Group commit: one write connection, shared by every writer. A write that
//! finds it free commits on its own thread; writes that find it busy queue
//! for the committer thread, which runs each in its own savepoint inside one
//! `BEGIN IMMEDIATE` transaction and commits them with one fsync.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::JoinHandle;

use rusqlite::Connection;

use super::{map_error, unavailable};
use crate::store::StoreResult;

/// At most this many writes share one transaction, so that one batch cannot
/// hold the write lock for long.
const MAX_BATCH: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Durability {
    /// Fsynced at commit (`synchronous = FULL`): vault data and accounts.
    Full,
    /// Not fsynced at commit (`synchronous = NORMAL`): pending logins, which
    /// live 60 seconds; losing one only makes its client log in again.
    Ephemeral,
}

/// One write, committed alone or in a batch. `run` gets the connection
/// inside the batch's transaction (or why there is none), does its work in a
/// savepoint and returns what to do once the batch is committed or not.
struct Job {
    durability: Durability,
    run: Work,
}

/// Runs in the transaction (or learns why there is none).
type Work = Box<dyn FnOnce(StoreResult<&Connection>) -> Completion + Send>;
/// Hands the outcome to the waiting caller once the commit is known.
type Completion = Box<dyn FnOnce(StoreResult<()>) + Send>;

impl Job {
    /// The job for `f`, and where its outcome arrives: `f`'s value once the
    /// batch is committed, else `f`'s error or the batch's.
    fn new<T: Send + 'static>(
        durability: Durability,
        f: impl FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    ) -> (Job, mpsc::Receiver<StoreResult<T>>) {
        let (reply, answer) = mpsc::sync_channel(1);
        let run = move |conn: StoreResult<&Connection>| -> Completion {
            let outcome = conn.and_then(|conn| in_savepoint(conn, f));
            Box::new(move |committed: StoreResult<()>| {
                let _ = reply.send(outcome.and_then(|value| committed.map(|()| value)));
            })
        };
        let job = Job {
            durability,
            run: Box::new(run),
        };
        (job, answer)
    }
}

/// The write connection and the `synchronous` level it is set to.
struct Writer {
    conn: Connection,
    synchronous: Durability,
}

impl Writer {
    /// Commits `batch` as one transaction, fsynced unless every write in it
    /// is ephemeral.
    fn commit(&mut self, batch: Vec<Job>) {
        let wanted = if batch.iter().any(|job| job.durability == Durability::Full) {
            Durability::Full
        } else {
            Durability::Ephemeral
        };
        // SQLite refuses to change `synchronous` inside a transaction.
        if wanted != self.synchronous && set_synchronous(&self.conn, wanted).is_ok() {
            self.synchronous = wanted;
        }
        commit_batch(&self.conn, batch);
    }
}

pub(super) struct Committer {
    writer: Arc<Mutex<Writer>>,
    /// Writes handed to the committer thread and not yet taken by it.
    queued: Arc<AtomicUsize>,
    jobs: Option<mpsc::Sender<Job>>,
    thread: Option<JoinHandle<()>>,
}

impl Committer {
    pub(super) fn start(conn: Connection) -> StoreResult<Committer> {
        let writer = Arc::new(Mutex::new(Writer {
            conn,
            synchronous: Durability::Full, // as `configure` left it
        }));
        let queued = Arc::new(AtomicUsize::new(0));
        let (jobs, queue) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("sqlite-committer".into())
            .spawn({
                let (writer, queued) = (writer.clone(), queued.clone());
                move || commit_loop(&writer, &queued, queue)
            })
            .map_err(|_| unavailable("cannot start the writer thread"))?;
        Ok(Committer {
            writer,
            queued,
            jobs: Some(jobs),
            thread: Some(thread),
        })
    }

    /// Commits `f` and returns its outcome. A write that finds no other
    /// write going on commits on the caller's own thread (no hand-off, the
    /// usual case on a home server); otherwise it queues for the committer
    /// thread, which batches it with the others.
    pub(super) fn run<T: Send + 'static>(
        &self,
        durability: Durability,
        f: impl FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        let (job, answer) = Job::new(durability, f);
        let stopped = || Err(unavailable("the writer thread has stopped"));
        // Only when nothing is queued: queued writes must not be overtaken.
        let idle_writer = if self.queued.load(Ordering::SeqCst) == 0 {
            self.writer.try_lock().ok()
        } else {
            None
        };
        if let Some(mut writer) = idle_writer {
            writer.commit(vec![job]);
        } else {
            self.queued.fetch_add(1, Ordering::SeqCst);
            let sent = self
                .jobs
                .as_ref()
                .is_some_and(|jobs| jobs.send(job).is_ok());
            if !sent {
                self.queued.fetch_sub(1, Ordering::SeqCst);
                return stopped();
            }
        }
        answer.recv().unwrap_or_else(|_| stopped())
    }
}

impl Drop for Committer {
    /// Lets the committer finish what is queued and close its connection.
    fn drop(&mut self) {
        drop(self.jobs.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The committer thread: waits for a write, takes every other write already
/// queued behind it, and commits them together.
fn commit_loop(writer: &Mutex<Writer>, queued: &AtomicUsize, queue: mpsc::Receiver<Job>) {
    while let Ok(first) = queue.recv() {
        // A poisoned lock only means a panic elsewhere; `commit_batch`
        // leaves no transaction open.
        let mut writer = writer.lock().unwrap_or_else(|p| p.into_inner());
        let mut batch = vec![first];
        batch.extend(queue.try_iter().take(MAX_BATCH - 1));
        queued.fetch_sub(batch.len(), Ordering::SeqCst);
        writer.commit(batch);
    }
}

fn set_synchronous(conn: &Connection, durability: Durability) -> rusqlite::Result<()> {
    conn.execute_batch(match durability {
        Durability::Full => "PRAGMA synchronous = FULL",
        Durability::Ephemeral => "PRAGMA synchronous = NORMAL",
    })
}

fn commit_batch(conn: &Connection, batch: Vec<Job>) {
    let began = execute(conn, "BEGIN IMMEDIATE");
    let completions: Vec<Completion> = batch
        .into_iter()
        .map(|job| {
            // A failed savepoint rolls the whole transaction back (see
            // `in_savepoint`); the jobs after it must not run in autocommit.
            let conn = match &began {
                Ok(()) if conn.is_autocommit() => Err(unavailable("the batch was rolled back")),
                Ok(()) => Ok(conn),
                Err(e) => Err(e.clone()),
            };
            (job.run)(conn)
        })
        .collect();
    let committed = began.and_then(|()| execute(conn, "COMMIT"));
    if committed.is_err() && !conn.is_autocommit() {
        let _ = execute(conn, "ROLLBACK");
    }
    for done in completions {
        done(committed.clone());
    }
}

/// Runs `f` in a savepoint, so that its failure undoes only its own work. A
/// panic counts as a failure and stays in this thread.
fn in_savepoint<T>(
    conn: &Connection,
    f: impl FnOnce(&Connection) -> StoreResult<T>,
) -> StoreResult<T> {
    execute(conn, "SAVEPOINT job")?;
    let outcome = catch_unwind(AssertUnwindSafe(|| f(conn)))
        .unwrap_or_else(|_| Err(unavailable("internal error")));
    let closed = match outcome {
        Ok(_) => execute(conn, "RELEASE job"),
        Err(_) => execute(conn, "ROLLBACK TO job").and_then(|()| execute(conn, "RELEASE job")),
    };
    if let Err(e) = closed {
        // Whatever state the savepoint is in, it must not be committed.
        let _ = execute(conn, "ROLLBACK");
        return Err(e);
    }
    outcome
}

/// Runs one statement through the statement cache.
pub(super) fn execute(conn: &Connection, sql: &str) -> StoreResult<()> {
    conn.prepare_cached(sql)
        .and_then(|mut statement| statement.execute([]))
        .map(|_| ())
        .map_err(map_error)
}

#[cfg(test)]
mod tests {
    use super::super::{SqliteStore, is_unique_violation, open_connection};
    use super::*;
    use crate::store::StoreError;
    use std::path::PathBuf;
    use std::time::Duration;

    /// A database file of its own for one test.
    fn scratch_path(tag: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("vaultd-committer-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir.join("db.sqlite")
    }

    /// A connection to a fresh database with one table `t`.
    fn scratch(tag: &str) -> (PathBuf, Connection) {
        let path = scratch_path(tag);
        let conn = open_connection(&path).unwrap();
        conn.execute_batch("CREATE TABLE t (k TEXT PRIMARY KEY)")
            .unwrap();
        (path, conn)
    }

    fn insert(key: &'static str) -> impl FnOnce(&Connection) -> StoreResult<()> + Send {
        move |conn| {
            conn.execute("INSERT INTO t (k) VALUES (?1)", [key])
                .map(|_| ())
                .map_err(|e| {
                    if is_unique_violation(&e) {
                        StoreError::Conflict
                    } else {
                        map_error(e)
                    }
                })
        }
    }

    fn keys(conn: &Connection) -> Vec<String> {
        let mut statement = conn.prepare("SELECT k FROM t ORDER BY k").unwrap();
        statement
            .query_map([], |row| row.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap()
    }

    #[test]
    fn a_failing_write_in_a_batch_undoes_only_its_own_work() {
        let (_path, conn) = scratch("isolation");
        let (a, a_done) = Job::new(Durability::Full, insert("a"));
        let (again, again_done) = Job::new(Durability::Full, insert("a"));
        // Writes a row, then fails: the row must go with it.
        let (half, half_done) = Job::new(Durability::Full, |conn: &Connection| {
            insert("half")(conn)?;
            Err::<(), _>(StoreError::NotFound)
        });
        let (panics, panics_done) =
            Job::new(Durability::Full, |conn: &Connection| -> StoreResult<()> {
                insert("panic")(conn)?;
                panic!("a bug in one write");
            });
        let (b, b_done) = Job::new(Durability::Full, insert("b"));

        commit_batch(&conn, vec![a, again, half, panics, b]);

        assert_eq!(a_done.recv().unwrap(), Ok(()));
        assert_eq!(again_done.recv().unwrap(), Err(StoreError::Conflict));
        assert_eq!(half_done.recv().unwrap(), Err(StoreError::NotFound));
        assert!(matches!(
            panics_done.recv().unwrap(),
            Err(StoreError::Unavailable(_))
        ));
        assert_eq!(b_done.recv().unwrap(), Ok(()));
        assert!(conn.is_autocommit(), "the batch's transaction is closed");
        assert_eq!(keys(&conn), ["a", "b"]);
    }

    #[test]
    fn a_batch_that_cannot_begin_fails_every_write_and_runs_none() {
        let (path, conn) = scratch("locked");
        conn.busy_timeout(Duration::from_millis(50)).unwrap();
        let other = Connection::open(&path).unwrap();
        other.execute_batch("BEGIN IMMEDIATE").unwrap();
        let (a, a_done) = Job::new(Durability::Full, insert("a"));
        let (b, b_done) = Job::new(Durability::Full, insert("b"));

        commit_batch(&conn, vec![a, b]);

        assert!(matches!(
            a_done.recv().unwrap(),
            Err(StoreError::Unavailable(_))
        ));
        assert!(matches!(
            b_done.recv().unwrap(),
            Err(StoreError::Unavailable(_))
        ));
        other.execute_batch("ROLLBACK").unwrap();
        assert!(keys(&conn).is_empty());
    }

    #[test]
    fn only_batches_of_ephemeral_writes_skip_the_fsync() {
        let store = SqliteStore::open(&scratch_path("sync"), 1).unwrap();
        let level = |conn: &Connection| -> StoreResult<i64> {
            conn.query_row("PRAGMA synchronous", [], |row| row.get(0))
                .map_err(map_error)
        };
        const NORMAL: i64 = 1;
        const FULL: i64 = 2;
        assert_eq!(store.write(level), Ok(FULL));
        assert_eq!(store.write_ephemeral(level), Ok(NORMAL));
        assert_eq!(store.write(level), Ok(FULL));
    }

    fn thread_name(_: &Connection) -> StoreResult<Option<String>> {
        Ok(std::thread::current().name().map(str::to_string))
    }

    #[test]
    fn a_write_with_the_connection_free_commits_on_its_own_thread() {
        let store = SqliteStore::open(&scratch_path("inline"), 1).unwrap();
        let caller = std::thread::current().name().map(str::to_string);
        assert_eq!(store.write(thread_name), Ok(caller));
    }

    #[test]
    fn writes_that_find_the_connection_busy_are_committed_by_the_committer() {
        let store = SqliteStore::open(&scratch_path("queued"), 1).unwrap();
        let busy = store.committer.writer.lock().unwrap();
        let names: Vec<_> = std::thread::scope(|s| {
            let threads: Vec<_> = (0..4)
                .map(|_| s.spawn(|| store.write(thread_name)))
                .collect();
            while store.committer.queued.load(Ordering::SeqCst) < 4 {
                std::thread::sleep(Duration::from_millis(1));
            }
            drop(busy);
            threads.into_iter().map(|t| t.join().unwrap()).collect()
        });
        assert!(
            names
                .iter()
                .all(|n| *n == Ok(Some("sqlite-committer".into())))
        );
        assert_eq!(store.committer.queued.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn concurrent_writes_each_get_their_own_answer() {
        let store = SqliteStore::open(&scratch_path("group"), 1).unwrap();
        store
            .write(|conn| {
                conn.execute_batch("CREATE TABLE t (k TEXT PRIMARY KEY)")
                    .map_err(map_error)
            })
            .unwrap();
        // 16 threads, 8 keys: every key is written by two threads at once.
        const KEYS: [&str; 8] = ["k0", "k1", "k2", "k3", "k4", "k5", "k6", "k7"];
        let outcomes: Vec<StoreResult<()>> = std::thread::scope(|s| {
            let threads: Vec<_> = (0..16)
                .map(|i| {
                    let store = &store;
                    s.spawn(move || store.write(insert(KEYS[i % 8])))
                })
                .collect();
            threads.into_iter().map(|t| t.join().unwrap()).collect()
        });
        let ok = outcomes.iter().filter(|o| o.is_ok()).count();
        let conflicts = outcomes
            .iter()
            .filter(|o| **o == Err(StoreError::Conflict))
            .count();
        assert_eq!((ok, conflicts), (8, 8));
        let stored = store.read(|conn| Ok(keys(conn))).unwrap();
        assert_eq!(stored, KEYS);
    }
}
