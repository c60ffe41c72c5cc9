//! Replay equals live across the core and the read models: for random command scripts, the read
//! models fed incrementally (in uneven pages, with pages fed again as after a restart from an older
//! checkpoint) equal the read models rebuilt from position 0, and agree with the core's own state;
//! and read models restored from a snapshot taken anywhere, then fed the rest (some of it again),
//! equal them too.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../routing-core/tests/support/mod.rs"]
mod support;

use projections::ReadModels;
use projections::conversations::{ConversationStatus, Direction};
use projections::rights::Visible;
use proptest::prelude::*;
use routing_core::Timestamp;
use support::centre;
use support::script::{run, script};

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn read_models_fed_live_equal_read_models_rebuilt_from_position_zero(
        script in script(),
        pages in prop::collection::vec((1usize..7, 0usize..4), 1..50),
    ) {
        let (state, log, _) = run(&script);
        let agents = || centre().agents.keys().cloned().collect::<Vec<_>>();

        let mut rebuilt = ReadModels::new(agents());
        for (index, event) in log.iter().enumerate() {
            rebuilt.apply(index as u64 + 1, event);
        }

        // Live: pages of uneven size, and after each page some of its events are delivered again
        // (a subscriber resuming from an older checkpoint) — they must not count twice.
        let mut live = ReadModels::new(agents());
        let mut next = 0usize;
        let mut pages = pages.into_iter().cycle();
        while next < log.len() {
            let (size, repeat) = pages.next().unwrap();
            let end = (next + size).min(log.len());
            let feed = |live: &mut ReadModels, from: usize| {
                for (index, event) in log.iter().enumerate().take(end).skip(from) {
                    live.apply(index as u64 + 1, event);
                }
            };
            feed(&mut live, next);
            feed(&mut live, end.saturating_sub(repeat));
            next = end;
        }
        prop_assert_eq!(&live, &rebuilt);
        prop_assert_eq!(live.checkpoint(), log.len() as u64);

        // The waiting view agrees with the core: what the core holds unoffered is listed, not
        // offered to anyone.
        let now = Timestamp::from_millis(i64::MAX / 2);
        let listed = live.waiting.list(None, now);
        for queue in centre().queues.keys() {
            for conversation in state.waiting_in(queue) {
                let row = listed.iter().find(|r| r.conversation == conversation);
                prop_assert!(row.is_some(), "{} waits in the core but not in the view", conversation);
                prop_assert_eq!(row.unwrap().offered_to.as_ref(), None);
            }
        }
        // The missed view holds exactly the inbound conversations that closed unanswered, and
        // each agent's postponed list is the one the agents view shows.
        let everything = Visible::everything();
        for summary in live.conversations.all() {
            let unanswered = summary.status == ConversationStatus::Closed
                && summary.accepted_at.is_none()
                && summary.direction == Direction::Inbound;
            prop_assert_eq!(
                live.missed.get(&summary.conversation).is_some(),
                unanswered,
                "missed {}", summary.conversation
            );
        }
        for (id, _) in state.agents() {
            let listed: std::collections::BTreeSet<_> =
                live.postponed.of(id, &everything).iter().map(|r| r.conversation).collect();
            prop_assert_eq!(&live.agents.get(id).unwrap().postponed, &listed, "postponed of {}", id);
        }
        // Nobody is in focus on a conversation that has closed or that they are not in.
        for summary in live.conversations.all() {
            for activity in live.focus.of(&summary.conversation, now) {
                if activity.in_focus {
                    prop_assert!(summary.status != ConversationStatus::Closed, "focus on closed {}", summary.conversation);
                    prop_assert!(summary.agents.contains(&activity.agent), "{} focused on {} without being in it", activity.agent, summary.conversation);
                }
            }
        }
        // The interaction list has a missed row for each missed interaction, and every
        // activity of a closed conversation has ended.
        let rows = live.interactions.all(
            &projections::interactions::Filter::between(
                Timestamp::from_millis(i64::MIN),
                Timestamp::from_millis(i64::MAX),
            ),
            &everything,
            &live.missed,
            now,
        );
        prop_assert_eq!(
            rows.iter().filter(|r| r.missed != projections::interactions::MissedMark::No).count(),
            live.missed.list(&everything, true).len()
        );
        prop_assert!(rows.iter().all(|r| r.answered || r.user.is_none()));
        for row in &rows {
            let closed = live.conversations.get(&row.conversation).is_some_and(|c| c.status == ConversationStatus::Closed);
            prop_assert!(!closed || row.ended_by.is_some(), "an activity of closed {} still open", row.conversation);
        }
        // Every missed interaction of a queue counts as missed in that queue's figures.
        let queues: Vec<_> = centre().queues.keys().cloned().collect();
        let figures = live.queues.figures(
            queues.iter(),
            &live.waiting,
            &everything,
            Timestamp::from_millis(0),
            now,
        );
        let counted: u32 = figures.iter().map(|f| f.missed).sum();
        let listed = live.missed.list(&everything, true).iter().filter(|r| r.queue.is_some()).count();
        prop_assert_eq!(counted as usize, listed);
        // And every agent's load in the view is the core's.
        for (id, agent) in state.agents() {
            let view = live.agents.get(id).unwrap();
            let core_load: std::collections::BTreeMap<_, _> =
                agent.load.iter().filter(|(_, n)| **n > 0).map(|(c, n)| (*c, *n)).collect();
            prop_assert_eq!(&view.load, &core_load, "load of {}", id);
        }
    }

    #[test]
    fn read_models_restored_from_a_snapshot_equal_read_models_never_stopped(
        script in script(),
        cut in 0.0f64..1.0,
        again in 0usize..5,
    ) {
        let (_, log, _) = run(&script);
        let agents = || centre().agents.keys().cloned().collect::<Vec<_>>();
        let mut whole = ReadModels::new(agents());
        for (index, event) in log.iter().enumerate() {
            whole.apply(index as u64 + 1, event);
        }

        let cut = (log.len() as f64 * cut) as usize;
        let mut before = ReadModels::new(agents());
        for (index, event) in log.iter().enumerate().take(cut) {
            before.apply(index as u64 + 1, event);
        }
        let bytes = before.snapshot().unwrap();
        let mut restored = ReadModels::restore(&bytes).unwrap();
        prop_assert_eq!(&restored, &before);
        prop_assert_eq!(restored.checkpoint(), cut as u64);
        // Resuming from an older position than the checkpoint (as a feed that re-reads its last
        // page) counts nothing twice.
        for (index, event) in log.iter().enumerate().skip(cut.saturating_sub(again)) {
            restored.apply(index as u64 + 1, event);
        }
        prop_assert_eq!(&restored, &whole);
    }
}

/// The log as a rebuild reads it once the keys of every contact anonymised in it are shredded:
/// what was sealed before an erasure reads as erased (as the keyring opens it), everything
/// else as stored. (The engine never reuses an erased contact's id: whoever writes from the
/// handle again gets a new pseudonym and key. These scripts do reuse ids, so what follows an
/// erasure counts as under a new key.)
fn with_erased_contacts(log: &[routing_core::Event]) -> Vec<routing_core::Event> {
    use routing_core::EventKind;
    use routing_core::privacy::visit_personal;
    // Each contact's last erasure, by index in the log.
    let erased: std::collections::BTreeMap<_, _> = log
        .iter()
        .enumerate()
        .filter_map(|(n, event)| match &event.kind {
            EventKind::ContactAnonymised(e) => Some(((e.connector.clone(), e.contact.clone()), n)),
            _ => None,
        })
        .collect();
    let mut contact_of = std::collections::BTreeMap::new();
    log.iter()
        .enumerate()
        .map(|(n, event)| {
            let subject = match &event.kind {
                EventKind::ConversationStarted(e) => {
                    contact_of.insert(e.conversation, (e.connector.clone(), e.contact.clone()));
                    Some((e.connector.clone(), e.contact.clone()))
                }
                EventKind::OutboundConversationStarted(e) => {
                    contact_of.insert(e.conversation, (e.connector.clone(), e.contact.clone()));
                    Some((e.connector.clone(), e.contact.clone()))
                }
                EventKind::CustomerPresenceChanged(e) => {
                    Some((e.connector.clone(), e.contact.clone()))
                }
                EventKind::CustomerMessageReceived(e) => contact_of.get(&e.conversation).cloned(),
                EventKind::AgentMessageSent(e) => contact_of.get(&e.conversation).cloned(),
                _ => None,
            };
            let sealed_before_its_erasure =
                subject.is_some_and(|s| erased.get(&s).is_some_and(|last| n < *last));
            if !sealed_before_its_erasure {
                return event.clone();
            }
            let encoded = routing_core::codec::encode(event).unwrap();
            let mut payload: serde_json::Value = serde_json::from_slice(&encoded.payload).unwrap();
            visit_personal::<()>(encoded.event_type, &mut payload, |_, value, erased| {
                *value = erased.value();
                Ok(())
            })
            .unwrap();
            routing_core::codec::decode(
                encoded.event_type,
                encoded.schema_version,
                &serde_json::to_vec(&payload).unwrap(),
                event.at,
            )
            .unwrap()
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Erasure is consistent: read models fed the log live (plaintext, then forgetting each
    /// contact as they are anonymised) equal read models rebuilt from a log whose erased
    /// contacts' keys are gone, and the core's state rebuilt from it equals the live one.
    #[test]
    fn read_models_that_forget_on_erasure_equal_read_models_rebuilt_without_the_keys(
        script in script(),
    ) {
        let (state, log, _) = run(&script);
        let agents = || centre().agents.keys().cloned().collect::<Vec<_>>();
        let mut live = ReadModels::new(agents());
        let mut rebuilt = ReadModels::new(agents());
        let mut core = routing_core::State::new(centre());
        for (index, (said, read)) in log.iter().zip(with_erased_contacts(&log)).enumerate() {
            live.apply(index as u64 + 1, said);
            rebuilt.apply(index as u64 + 1, &read);
            core.apply(&read);
        }
        prop_assert_eq!(&live, &rebuilt);
        prop_assert_eq!(&core, &state);
    }
}
