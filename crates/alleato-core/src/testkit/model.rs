//! The language-model contract (see [`LanguageModel`]), for a model id the adapter answers
//! normally. What an adapter does with refusals and outages is tested against each provider's
//! own wire format, beside the adapter.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;

use crate::model::Role;
use crate::ports::{LanguageModel, ModelEvent, ModelRequest, PromptMessage};

/// An adapter under test (as a trait object, so a wrapped model runs the suite too), and a
/// model id it answers normally.
pub struct ModelUnderTest {
    /// The adapter, possibly wrapped.
    pub model: Arc<dyn LanguageModel>,
    /// A model id the adapter answers normally; every request of the suite uses it.
    pub model_id: String,
}

impl ModelUnderTest {
    /// `model` under test, asked with `model_id`, which it must answer normally.
    pub fn new(model: impl LanguageModel, model_id: impl Into<String>) -> Self {
        Self { model: Arc::new(model), model_id: model_id.into() }
    }

    fn request(&self, text: &str) -> ModelRequest {
        ModelRequest::new(self.model_id.clone(), vec![PromptMessage::new(Role::User, text)])
    }
}

/// Long enough for any local test provider; the suite never waits for a real network.
const BOUND: Duration = Duration::from_secs(20);

/// A normal request streams some text, with no error item, and the stream ends.
pub async fn a_reply_streams_text_and_ends(subject: ModelUnderTest) {
    let stream = subject.model.stream(subject.request("Say hello")).await.expect("a normal request starts");
    let events: Vec<_> = tokio::time::timeout(BOUND, stream.collect::<Vec<_>>()).await.expect("the stream ends");
    let text: String = events
        .iter()
        .map(|e| match e {
            Ok(ModelEvent::TextDelta(delta)) => delta.clone(),
            Ok(_) => String::new(),
            Err(err) => panic!("a normal reply has no error item: {err}"),
        })
        .collect();
    assert!(!text.trim().is_empty(), "some text: {events:?}");
}

/// Dropping a stream after its first event leaves the model usable: the next request starts,
/// and its stream ends without an error item.
pub async fn a_stream_dropped_early_leaves_the_model_usable(subject: ModelUnderTest) {
    let mut first = subject.model.stream(subject.request("Start, then be interrupted")).await.unwrap();
    let _ = tokio::time::timeout(BOUND, first.next()).await.expect("a first event");
    drop(first);
    let again = subject.model.stream(subject.request("And again")).await.expect("the next request starts");
    let events: Vec<_> = tokio::time::timeout(BOUND, again.collect::<Vec<_>>()).await.expect("and ends");
    assert!(events.iter().all(Result::is_ok), "{events:?}");
}

/// Four concurrent requests each get a whole answer: each stream ends, with some text and no
/// error item.
pub async fn concurrent_requests_each_get_a_whole_answer(subject: ModelUnderTest) {
    let subject = Arc::new(subject);
    let calls: Vec<_> = (0..4)
        .map(|i| {
            let subject = subject.clone();
            tokio::spawn(async move {
                let stream = subject.model.stream(subject.request(&format!("Question {i}"))).await.unwrap();
                tokio::time::timeout(BOUND, stream.collect::<Vec<_>>()).await.expect("ends")
            })
        })
        .collect();
    for call in calls {
        let events = call.await.unwrap();
        assert!(events.iter().all(Result::is_ok), "{events:?}");
        assert!(events.iter().any(|e| matches!(e, Ok(ModelEvent::TextDelta(d)) if !d.is_empty())));
    }
}

/// `describe` is not blank.
pub async fn it_describes_itself(subject: ModelUnderTest) {
    assert!(!subject.model.describe().trim().is_empty());
}
