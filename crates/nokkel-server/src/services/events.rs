//! Wake-ups between requests: a browser waiting for its login to be decided, a device
//! long-polling for a challenge. Within one instance a keyed map of `Notify`s; across
//! instances on PostgreSQL, `NOTIFY nokkel_events` carries the same keys and every
//! instance's listener task wakes its local waiters.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

/// The PostgreSQL channel events travel on.
pub const CHANNEL: &str = "nokkel_events";

/// The key for "the login with this id changed".
pub fn login_key(login_id: &str) -> String {
    format!("login:{login_id}")
}

/// The key for "a new challenge is pending for this person".
pub fn person_key(pid: &str) -> String {
    format!("pid:{pid}")
}

/// Local waiters by key. Entries hold weak references, so a key nobody waits on costs
/// nothing once its waiters are gone.
#[derive(Debug, Default)]
pub struct Events {
    waiters: Mutex<HashMap<String, Weak<Notify>>>,
    /// When each key last carried news a waiter may want to time (a login decided here).
    marks: Mutex<HashMap<String, Instant>>,
}

impl Events {
    /// The `Notify` for `key`, creating it if needed. Hold the returned `Arc` while waiting.
    pub fn subscribe(&self, key: &str) -> Arc<Notify> {
        let mut waiters = self.waiters.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(existing) = waiters.get(key).and_then(Weak::upgrade) {
            return existing;
        }
        // Drop dead entries now and then so the map stays the size of live waiters.
        if waiters.len() > 1024 {
            waiters.retain(|_, w| w.strong_count() > 0);
        }
        let notify = Arc::new(Notify::new());
        waiters.insert(key.to_owned(), Arc::downgrade(&notify));
        notify
    }

    /// Notes that `key` carries news now (before [`Events::wake`]), for [`Events::take_mark`].
    pub fn mark(&self, key: &str) {
        let mut marks = self.marks.lock().unwrap_or_else(|p| p.into_inner());
        // Marks nobody takes (no browser was waiting) must not pile up.
        if marks.len() > 4096 {
            marks.retain(|_, at| at.elapsed() < Duration::from_secs(300));
        }
        marks.insert(key.to_owned(), Instant::now());
    }

    /// When `key` was marked, once: the first waiter to ask gets it.
    pub fn take_mark(&self, key: &str) -> Option<Instant> {
        let mut marks = self.marks.lock().unwrap_or_else(|p| p.into_inner());
        marks.remove(key)
    }

    /// Wakes every local waiter on `key`.
    pub fn wake(&self, key: &str) {
        let notify = {
            let waiters = self.waiters.lock().unwrap_or_else(|p| p.into_inner());
            waiters.get(key).and_then(Weak::upgrade)
        };
        if let Some(notify) = notify {
            notify.notify_waiters();
        }
    }
}

/// Waits until `check` yields `Some`, re-checking whenever `key` is woken, for at most
/// `timeout`. The subscription is made before the first check, so a wake-up between the
/// check and the wait is never lost.
pub async fn wait_for<T, F, Fut>(
    events: &Events,
    key: &str,
    timeout: Duration,
    mut check: F,
) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let notify = events.subscribe(key);
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let notified = notify.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if let Some(found) = check().await {
            return Some(found);
        }
        if tokio::time::timeout_at(deadline, notified).await.is_err() {
            return None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_wake_between_check_and_wait_is_not_lost() {
        let events = Arc::new(Events::default());
        let flag = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (e, f) = (events.clone(), flag.clone());
        let waiter = tokio::spawn(async move {
            wait_for(&e, "login:1", Duration::from_secs(5), || {
                let f = f.clone();
                async move { f.load(std::sync::atomic::Ordering::SeqCst).then_some(()) }
            })
            .await
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        flag.store(true, std::sync::atomic::Ordering::SeqCst);
        events.wake("login:1");
        assert_eq!(waiter.await.unwrap(), Some(()));
    }

    #[tokio::test]
    async fn waiting_times_out_without_a_wake() {
        let events = Events::default();
        let started = std::time::Instant::now();
        let got: Option<()> = wait_for(&events, "pid:x", Duration::from_millis(50), || async {
            None
        })
        .await;
        assert_eq!(got, None);
        assert!(started.elapsed() >= Duration::from_millis(50));
    }
}
