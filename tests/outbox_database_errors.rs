//! A database that fails while a row is delivered: the row is retried, never judged by it.

mod support;

use snowsync::domain::SourceEvent;
use snowsync::outbox::deliver::ServiceNowDeliverer;
use snowsync::store::outbox::{self, RowStatus};
use support::harness::{Harness, finding};

on_both_engines!(
    a_database_error_reading_the_ticket_link_is_a_retry_not_a_dead_row,
    |test_db| {
        let h = Harness::start(test_db.engine).await;
        let recorded = h
            .failing(&finding("inactive-users", "ana.souza@simubiz.com"))
            .await;
        h.drain().await;
        h.event(recorded.finding_id, SourceEvent::Resolved).await;
        // The deliverer's connection pool is closed: every read of the ticket link fails.
        let broken = h.test_db.open().await;
        broken.close_by_ref().await.expect("close");
        let unlucky = ServiceNowDeliverer::new(
            broken,
            h.deliverer.client.clone(),
            h.deliverer.notifier.clone(),
            h.config.outbox.batch_size,
            h.intake.pipeline.clone(),
        );
        assert!(
            snowsync::outbox::dispatch_once(&h.db, "unlucky", &h.config.outbox, &unlucky)
                .await
                .expect("dispatch")
        );
        let rows = outbox::of_finding(&h.db, recorded.finding_id)
            .await
            .expect("rows");
        let close = rows.last().expect("the close row");
        assert_eq!(close.op.as_str(), "close_ticket");
        assert_eq!(
            (close.status, close.attempts),
            (RowStatus::Pending, 1),
            "retried: {:?}",
            close.last_error
        );
        assert!(
            close
                .last_error
                .as_deref()
                .unwrap_or_default()
                .contains("ticket link"),
            "{:?}",
            close.last_error
        );
        assert_eq!(
            h.stats()
                .await
                .requests_to("PATCH", "/api/now/table/incident/{sys_id}"),
            0,
            "nothing was sent on a guess"
        );
        h.drain().await;
        let close = outbox::get(&h.db, close.id)
            .await
            .expect("get")
            .expect("row");
        assert_eq!(
            close.status,
            RowStatus::Done,
            "delivered once the database answers"
        );
    }
);
