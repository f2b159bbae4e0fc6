//! Letter orders: one row per order attempt whatever its outcome, for rate limits and
//! audit (the receipt page is identical for every outcome; this table is not).

use super::{with_pool, Store, StoreError};

/// A letter order to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOrder {
    /// The identity number, when it was a valid one.
    pub pid: Option<String>,
    /// The client's IP address as text.
    pub client_ip: String,
    /// When (unix seconds).
    pub created_at: i64,
    /// `letter_sent` or a `refused_…` code chosen by the ordering service.
    pub outcome: String,
}

/// A recorded letter order.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct OrderRecord {
    /// Database-assigned id, increasing.
    pub id: i64,
    /// The identity number, when it was a valid one.
    pub pid: Option<String>,
    /// The client's IP address as text.
    pub client_ip: String,
    /// When (unix seconds).
    pub created_at: i64,
    /// `letter_sent` or a `refused_…` code.
    pub outcome: String,
}

/// Whose orders to count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderSubject<'a> {
    /// Orders naming this identity number.
    Person(&'a str),
    /// Orders from this client IP.
    ClientIp(&'a str),
}

impl Store {
    /// Records an order; returns its id.
    pub async fn insert_order(&self, order: &NewOrder) -> Result<i64, StoreError> {
        let sql = "INSERT INTO orders (pid, client_ip, created_at, outcome) \
             VALUES ($1, $2, $3, $4) RETURNING id";
        let id: i64 = with_pool!(self, pool => sqlx::query_scalar(sql)
            .bind(&order.pid)
            .bind(&order.client_ip)
            .bind(order.created_at)
            .bind(&order.outcome)
            .fetch_one(pool)
            .await)?;
        Ok(id)
    }

    /// How many orders (any outcome) the subject made at or after `since`.
    pub async fn count_orders_since(
        &self,
        subject: OrderSubject<'_>,
        since: i64,
    ) -> Result<i64, StoreError> {
        let (sql, key) = match subject {
            OrderSubject::Person(pid) => (
                "SELECT COUNT(*) FROM orders WHERE pid = $1 AND created_at >= $2",
                pid,
            ),
            OrderSubject::ClientIp(ip) => (
                "SELECT COUNT(*) FROM orders WHERE client_ip = $1 AND created_at >= $2",
                ip,
            ),
        };
        let count: i64 = with_pool!(self, pool => sqlx::query_scalar(sql)
            .bind(key)
            .bind(since)
            .fetch_one(pool)
            .await)?;
        Ok(count)
    }

    /// Orders naming `pid`, newest first.
    pub async fn orders_for(&self, pid: &str) -> Result<Vec<OrderRecord>, StoreError> {
        let sql = "SELECT id, pid, client_ip, created_at, outcome FROM orders \
             WHERE pid = $1 ORDER BY id DESC";
        Ok(
            with_pool!(self, pool => sqlx::query_as::<_, OrderRecord>(sql)
            .bind(pid)
            .fetch_all(pool)
            .await)?,
        )
    }
}
