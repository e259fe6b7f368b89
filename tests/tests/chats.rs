//! Chats and votes, for their owner.

use alleato_e2e::{TestApp, assert_api_error, random_chat_id};
use alleato_sdk::ListChats;
use alleato_sdk::api::{ChatId, CreateChatRequest, MessageId, UpdateChatRequest, Visibility, VoteType};

#[tokio::test]
async fn create_read_update_delete() {
    let app = TestApp::spawn().await;
    let (ada, session) = app.user().await;
    let response = ada.request(reqwest::Method::POST, "/api/v1/chats").send().await.unwrap();
    assert_eq!(response.status(), 201, "a body is optional");
    let chat = ada
        .create_chat(&CreateChatRequest {
            id: None,
            title: Some("  Plans  ".into()),
            visibility: Some(Visibility::Public),
        })
        .await
        .unwrap();
    assert_eq!((chat.title.as_str(), chat.visibility, chat.user_id), ("Plans", Visibility::Public, session.user.id));

    let read = ada.get_chat(chat.id).await.unwrap();
    assert_eq!(read.chat, chat);
    assert!(read.messages.is_empty());

    let updated = ada
        .update_chat(
            chat.id,
            &UpdateChatRequest { title: Some("Renamed".into()), visibility: Some(Visibility::Private) },
        )
        .await
        .unwrap();
    assert_eq!((updated.title.as_str(), updated.visibility), ("Renamed", Visibility::Private));
    assert!(updated.updated_at >= chat.updated_at);
    assert_eq!(ada.get_chat(chat.id).await.unwrap().chat, updated);

    assert!(ada.delete_chat(chat.id).await.unwrap().success);
    assert_api_error(ada.get_chat(chat.id).await, 404, "not_found:chat");
    assert_api_error(ada.delete_chat(chat.id).await, 404, "not_found:chat");
}

#[tokio::test]
async fn client_chosen_ids_are_kept_and_unique() {
    let app = TestApp::spawn().await;
    let (ada, _) = app.user().await;
    let id = ChatId::new();
    let chat = ada.create_chat(&CreateChatRequest { id: Some(id), ..Default::default() }).await.unwrap();
    assert_eq!(chat.id, id);
    assert_api_error(
        ada.create_chat(&CreateChatRequest { id: Some(id), ..Default::default() }).await,
        409,
        "conflict:chat",
    );
    // Someone else's id is answered as if it were free (a chat under a fresh id), never with a
    // 409 that would confirm a private chat exists; the owner's chat is untouched.
    let (bob, _) = app.user().await;
    let bobs = bob.create_chat(&CreateChatRequest { id: Some(id), ..Default::default() }).await.unwrap();
    assert_ne!(bobs.id, id);
    assert_eq!(bobs.user_id, bob.me().await.unwrap().id);
    assert_eq!(ada.get_chat(id).await.unwrap().chat.user_id, chat.user_id);
    assert_api_error(bob.get_chat(id).await, 404, "not_found:chat");
}

#[tokio::test]
async fn titles_are_bounded() {
    let app = TestApp::spawn().await;
    let (ada, _) = app.user().await;
    let long = CreateChatRequest { title: Some("x".repeat(201)), ..Default::default() };
    assert_api_error(ada.create_chat(&long).await, 400, "bad_request:chat");
}

#[tokio::test]
async fn listing_is_newest_first_and_pages_by_cursor() {
    let app = TestApp::spawn().await;
    let (ada, _) = app.user().await;
    let (bob, _) = app.user().await;
    bob.create_chat(&Default::default()).await.unwrap();
    let mut ids = Vec::new();
    for i in 0..5 {
        let chat = ada
            .create_chat(&CreateChatRequest { title: Some(format!("chat {i}")), ..Default::default() })
            .await
            .unwrap();
        ids.push(chat.id);
    }
    ids.reverse();
    let all = ada.list_chats(&ListChats::default()).await.unwrap();
    assert_eq!(all.chats.iter().map(|c| c.id).collect::<Vec<_>>(), ids, "only mine, newest first");
    assert!(!all.has_more);

    let first = ada.list_chats(&ListChats { limit: Some(2), ..Default::default() }).await.unwrap();
    assert_eq!(first.chats.iter().map(|c| c.id).collect::<Vec<_>>(), ids[..2]);
    assert!(first.has_more);
    let second =
        ada.list_chats(&ListChats { limit: Some(2), ending_before: Some(ids[1]), ..Default::default() }).await.unwrap();
    assert_eq!(second.chats.iter().map(|c| c.id).collect::<Vec<_>>(), ids[2..4]);
    assert!(second.has_more);
    let last =
        ada.list_chats(&ListChats { limit: Some(2), ending_before: Some(ids[3]), ..Default::default() }).await.unwrap();
    assert_eq!(last.chats.iter().map(|c| c.id).collect::<Vec<_>>(), ids[4..]);
    assert!(!last.has_more);
    let back = ada
        .list_chats(&ListChats { limit: Some(2), starting_after: Some(ids[4]), ..Default::default() })
        .await
        .unwrap();
    assert_eq!(back.chats.iter().map(|c| c.id).collect::<Vec<_>>(), ids[2..4], "starting_after pages back up");
    assert!(back.has_more);

    // Both cursors: the chats between them, paged down from `ending_before`.
    let (client, ids) = (&ada, &ids);
    let between = |limit, newer_than: usize, older_than: usize| {
        let page = ListChats { limit, starting_after: Some(ids[newer_than]), ending_before: Some(ids[older_than]) };
        async move { client.list_chats(&page).await.unwrap() }
    };
    let window = between(None, 4, 0).await;
    assert_eq!(window.chats.iter().map(|c| c.id).collect::<Vec<_>>(), ids[1..4]);
    assert!(!window.has_more);
    let page = between(Some(2), 4, 0).await;
    assert_eq!(page.chats.iter().map(|c| c.id).collect::<Vec<_>>(), ids[1..3]);
    assert!(page.has_more, "ids[3] is still in the window");
    let exact = between(Some(3), 4, 0).await;
    assert_eq!(exact.chats.len(), 3);
    assert!(!exact.has_more, "the window ends at the floor, not at the probe row");
    for (newer_than, older_than) in [(1, 2), (2, 2), (0, 4)] {
        let empty = between(None, newer_than, older_than).await;
        assert!(empty.chats.is_empty() && !empty.has_more, "({newer_than}, {older_than})");
    }
}

#[tokio::test]
async fn listing_rejects_bad_pages() {
    let app = TestApp::spawn().await;
    let (ada, _) = app.user().await;
    let (bob, _) = app.user().await;
    let bobs = bob.create_chat(&Default::default()).await.unwrap();
    for query in ["limit=0", "limit=101", "limit=abc", "limit=-1", "starting_after=nope", "bogus=1"] {
        let response = ada.request(reqwest::Method::GET, &format!("/api/v1/chats?{query}")).send().await.unwrap();
        assert_eq!(response.status(), 400, "{query}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["code"], "bad_request:api", "{query}");
    }
    // A well-formed cursor that names no chat of the caller's is a missing chat, not bad input,
    // alone or beside another.
    let mine = ada.create_chat(&Default::default()).await.unwrap().id;
    for cursor in [random_chat_id(), bobs.id] {
        for page in [
            ListChats { ending_before: Some(cursor), ..Default::default() },
            ListChats { starting_after: Some(cursor), ending_before: Some(mine), ..Default::default() },
            ListChats { starting_after: Some(mine), ending_before: Some(cursor), ..Default::default() },
        ] {
            assert_api_error(ada.list_chats(&page).await, 404, "not_found:chat");
        }
    }
    let bad_limit = ListChats { limit: Some(0), starting_after: Some(mine), ending_before: Some(mine) };
    assert_api_error(ada.list_chats(&bad_limit).await, 400, "bad_request:api");
}

#[tokio::test]
async fn delete_all_deletes_only_mine() {
    let app = TestApp::spawn().await;
    let (ada, _) = app.user().await;
    let (bob, _) = app.user().await;
    for _ in 0..3 {
        ada.create_chat(&Default::default()).await.unwrap();
    }
    let kept = bob.create_chat(&Default::default()).await.unwrap();
    assert_eq!(ada.delete_all_chats().await.unwrap(), 3);
    assert!(ada.list_chats(&ListChats::default()).await.unwrap().chats.is_empty());
    assert_eq!(ada.delete_all_chats().await.unwrap(), 0);
    assert_eq!(bob.get_chat(kept.id).await.unwrap().chat.id, kept.id);
}

#[tokio::test]
async fn messages_come_back_in_order_and_votes_upsert() {
    let app = TestApp::spawn().await;
    let (ada, _) = app.user().await;
    let chat = ada.create_chat(&Default::default()).await.unwrap();
    let seeded = app.seed_messages(chat.id, 4).await;
    let read = ada.get_chat(chat.id).await.unwrap();
    assert_eq!(read.messages, seeded);

    ada.vote(chat.id, seeded[1].id, VoteType::Up).await.unwrap();
    let vote = ada.vote(chat.id, seeded[1].id, VoteType::Down).await.unwrap();
    assert!(!vote.is_upvoted);
    ada.vote(chat.id, seeded[3].id, VoteType::Up).await.unwrap();
    let mut votes = ada.votes(chat.id).await.unwrap();
    votes.sort_by_key(|v| v.message_id);
    let mut expected = vec![(seeded[1].id, false), (seeded[3].id, true)];
    expected.sort();
    assert_eq!(votes.iter().map(|v| (v.message_id, v.is_upvoted)).collect::<Vec<_>>(), expected);

    assert_api_error(ada.vote(chat.id, MessageId::new(), VoteType::Up).await, 404, "not_found:message");
    let other = ada.create_chat(&Default::default()).await.unwrap();
    assert_api_error(ada.vote(other.id, seeded[1].id, VoteType::Up).await, 404, "not_found:message");
    let bad = ada
        .request(reqwest::Method::PUT, &format!("/api/v1/chats/{}/messages/{}/vote", chat.id, seeded[1].id))
        .json(&serde_json::json!({"type": "sideways"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
}
