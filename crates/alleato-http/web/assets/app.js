// The app shell: signing in, the chat list, the chat's header actions, addresses (`/` is a new
// chat, `/chat/{id}` an existing one, shareable), and the error banner.

import { api, ApiError, describe, session } from './api.js';
import { ChatView, el } from './chat.js';

const $ = (id) => document.getElementById(id);
const PAGE = 20;
const state = { me: null, chats: [], hasMore: false };
let view;

async function boot() {
  wireWelcome();
  wireShell();
  view = new ChatView({
    me: () => state.me,
    listChanged: () => refreshChats(),
    error: showError,
    navigate,
    chatShown: drawHeader,
  });
  window.addEventListener('popstate', () => route());
  if (!session.token) return showWelcome();
  try {
    state.me = (await api('GET', '/auth/me')).user;
  } catch (err) {
    if (err.status === 401) session.clear();
    return showWelcome(err.status === 401 ? null : err);
  }
  await enter();
}

// --- signing in and out ---

function wireWelcome() {
  $('guest').addEventListener('click', () => signIn('POST', '/auth/guest'));
  $('auth-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const form = new FormData(event.target);
    const kind = event.submitter?.value === 'register' ? 'register' : 'login';
    const email = String(form.get('email') || '').trim();
    const password = String(form.get('password') || '');
    if (!email || password.length < 8) {
      return authError('Enter your email and a password of at least 8 characters.');
    }
    signIn('POST', `/auth/${kind}`, { email, password });
  });
}

async function signIn(method, path, json) {
  authError(null);
  try {
    const { user, token } = await api(method, path, { json });
    session.save(token);
    state.me = user;
    $('auth-form').reset();
    await enter();
  } catch (err) {
    const { title, text } = describe(err);
    authError(`${title} ${text}`);
  }
}

function authError(text) {
  $('auth-error').hidden = !text;
  $('auth-error').textContent = text || '';
}

function showWelcome(err) {
  $('shell').hidden = true;
  $('welcome').hidden = false;
  if (err) authError(`${describe(err).title} ${describe(err).text}`);
  $('guest').focus();
}

async function enter() {
  $('welcome').hidden = true;
  $('shell').hidden = false;
  $('who').textContent = state.me.type === 'guest' ? 'Guest' : state.me.email;
  await refreshChats();
  await route();
}

async function logout() {
  try {
    await api('POST', '/auth/logout');
  } catch {
    // The token is forgotten here whatever the server says.
  }
  signedOut();
}

function signedOut() {
  session.clear();
  state.me = null;
  state.chats = [];
  view.reset(null);
  showWelcome();
}

// --- addresses ---

function chatIdOf(path) {
  const match = path.match(/^\/chat\/([^/]+)$/);
  return match ? decodeURIComponent(match[1]) : null;
}

// `silent`: only the address changes (a new chat that now exists).
function navigate(path, { replace = false, silent = false } = {}) {
  if (path !== window.location.pathname) {
    if (replace) window.history.replaceState(null, '', path);
    else window.history.pushState(null, '', path);
  }
  if (!silent) route();
}

async function route() {
  if (!state.me) return;
  hideBanner();
  $('sidebar').classList.remove('open');
  const id = chatIdOf(window.location.pathname);
  if (id) await view.open(id);
  else view.blank();
  drawList();
}

// --- the chat list ---

async function refreshChats() {
  try {
    const { chats, hasMore } = await api('GET', `/chats?limit=${Math.max(PAGE, state.chats.length)}`);
    state.chats = chats;
    state.hasMore = hasMore;
  } catch (err) {
    showError(err);
  }
  drawList();
  drawHeader(view);
}

async function olderChats() {
  const last = state.chats[state.chats.length - 1];
  if (!last) return;
  try {
    const { chats, hasMore } = await api('GET', `/chats?limit=${PAGE}&ending_before=${last.id}`);
    state.chats.push(...chats);
    state.hasMore = hasMore;
    drawList();
  } catch (err) {
    showError(err);
  }
}

function drawList() {
  const current = view?.id;
  $('chat-list').replaceChildren(
    ...state.chats.map((chat) => {
      const link = el('a', chat.visibility === 'public' ? 'public' : '', chat.title);
      link.href = `/chat/${chat.id}`;
      link.dataset.id = chat.id;
      if (chat.id === current) link.setAttribute('aria-current', 'page');
      link.addEventListener('click', (event) => {
        if (event.metaKey || event.ctrlKey || event.shiftKey || event.button !== 0) return;
        event.preventDefault();
        navigate(link.pathname);
      });
      const item = el('li');
      item.append(link);
      return item;
    }),
  );
  if (!state.chats.length) $('chat-list').append(el('li', 'muted', 'No chats yet.'));
  $('more-chats').hidden = !state.hasMore;
}

// --- the chat's header ---

function wireShell() {
  $('new-chat').addEventListener('click', () => navigate('/'));
  $('more-chats').addEventListener('click', olderChats);
  $('logout').addEventListener('click', logout);
  $('open-sidebar').addEventListener('click', () => $('sidebar').classList.add('open'));
  $('close-sidebar').addEventListener('click', () => $('sidebar').classList.remove('open'));
  $('banner-close').addEventListener('click', hideBanner);
  $('rename').addEventListener('click', startRename);
  $('chat-title').addEventListener('dblclick', startRename);
  $('rename-form').addEventListener('submit', (event) => {
    event.preventDefault();
    rename($('rename-input').value);
  });
  $('rename-input').addEventListener('keydown', (event) => {
    if (event.key === 'Escape') endRename();
  });
  $('rename-input').addEventListener('blur', () => endRename());
  $('visibility').addEventListener('click', toggleVisibility);
  $('copy-link').addEventListener('click', copyLink);
  $('delete-chat').addEventListener('click', deleteChat);
}

function listed() {
  return state.chats.find((c) => c.id === view.id);
}

function drawHeader(chatView) {
  const chat = listed() || chatView.chat;
  const owned = Boolean(chatView.chat) && !chatView.readOnly;
  $('chat-title').textContent = chat ? chat.title : 'New chat';
  document.title = chat ? `${chat.title} · Alleato` : 'Alleato';
  $('chat-actions').hidden = !owned;
  const isPublic = chat?.visibility === 'public';
  $('visibility').textContent = isPublic ? 'Make private' : 'Make public';
  $('visibility').setAttribute('aria-pressed', String(isPublic));
  $('share').hidden = !(owned && isPublic);
  $('share-link').value = chat ? `${window.location.origin}/chat/${chat.id}` : '';
  for (const link of $('chat-list').querySelectorAll('a')) {
    if (link.dataset.id === chatView.id) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
}

function startRename() {
  if (!view.chat || view.readOnly) return;
  $('rename-input').value = (listed() || view.chat).title;
  $('chat-title').hidden = true;
  $('rename-form').hidden = false;
  $('rename-input').select();
}

function endRename() {
  $('rename-form').hidden = true;
  $('chat-title').hidden = false;
}

async function rename(title) {
  endRename();
  await update({ title: title.trim() });
}

async function toggleVisibility() {
  const chat = listed() || view.chat;
  await update({ visibility: chat.visibility === 'public' ? 'private' : 'public' });
}

async function update(changes) {
  try {
    const { chat } = await api('PATCH', `/chats/${view.id}`, { json: changes });
    view.chat = chat;
    await refreshChats();
  } catch (err) {
    showError(err);
  }
}

async function copyLink() {
  const link = $('share-link').value;
  try {
    await navigator.clipboard.writeText(link);
    $('copied').textContent = 'Copied.';
  } catch {
    $('share-link').select();
    $('copied').textContent = 'Press Ctrl+C to copy.';
  }
  setTimeout(() => ($('copied').textContent = ''), 3000);
}

// Two clicks: the first arms the button for a few seconds.
async function deleteChat() {
  const button = $('delete-chat');
  if (button.dataset.armed !== 'true') {
    button.dataset.armed = 'true';
    button.textContent = 'Click again to delete';
    setTimeout(() => {
      button.dataset.armed = 'false';
      button.textContent = 'Delete';
    }, 4000);
    return;
  }
  button.dataset.armed = 'false';
  button.textContent = 'Delete';
  try {
    await api('DELETE', `/chats/${view.id}`);
    await refreshChats();
    navigate('/');
  } catch (err) {
    showError(err);
  }
}

// --- errors ---

function showError(err) {
  if (err instanceof ApiError && err.status === 401 && state.me) return signedOut();
  const { title, text } = err instanceof ApiError ? describe(err) : err.streamError
    ? { title: 'The answer could not be completed.', text: err.streamError }
    : err.title ? err : describe(err);
  $('banner-title').textContent = title;
  $('banner-text').textContent = text;
  $('banner').hidden = false;
}

function hideBanner() {
  $('banner').hidden = true;
}

boot();
