// The compile-time-checked queries (`sqlx::query!`) read `.sqlx/` offline;
// scripts/sqlx-prepare runs them against a database instead, with a fresh
// SQLX_OFFLINE_DIR each time: rerun the macros when that changes.
fn main() {
    println!("cargo:rerun-if-env-changed=SQLX_OFFLINE");
    println!("cargo:rerun-if-env-changed=SQLX_OFFLINE_DIR");
    println!("cargo:rerun-if-changed=../../.sqlx");
}
