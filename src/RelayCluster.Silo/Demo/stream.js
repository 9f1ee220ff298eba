// The demo page's script: a file of its own, so the page's Content-Security-Policy allows no inline script.
const $ = (id) => document.getElementById(id);

// Reads the SSE response as the SDKs do: data lines, [DONE] at the end, comments ignored.
async function readSse(response, onText) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true });
    let end;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const event = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      for (const line of event.split('\n')) {
        if (!line.startsWith('data: ') || line === 'data: [DONE]') continue;
        const chunk = JSON.parse(line.slice(6));
        if (chunk.error) throw new Error(chunk.error.message);
        onText(chunk.choices?.[0]?.delta?.content ?? '');
      }
    }
  }
}

async function subscribe(streamId, key, onText) {
  const grant = await fetch(`/v1/streams/${streamId}/token`, { method: 'POST', headers: { authorization: `Bearer ${key}` } });
  if (!grant.ok) throw new Error(`token: HTTP ${grant.status}`);
  const { token } = await grant.json();
  const connection = new signalR.HubConnectionBuilder().withUrl('/hubs/streams', { accessTokenFactory: () => token }).build();
  await connection.start();
  try {
    await new Promise((resolve, reject) => connection.stream('Subscribe', streamId, 1).subscribe({
      next: (message) => {
        if (message.type === 'token') onText(message.data);
        if (message.type === 'failed') reject(new Error(message.data));
      },
      complete: resolve,
      error: reject,
    }));
  } finally {
    await connection.stop();
  }
}

$('run').addEventListener('click', async () => {
  for (const id of ['sse', 'signalr', 'sse-status', 'signalr-status', 'stream-id']) $(id).textContent = '';
  const key = $('key').value.trim();
  const response = await fetch('/v1/chat/completions', {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'x-relay-fanout': 'true' },
    body: JSON.stringify({ model: $('model').value, stream: true, messages: [{ role: 'user', content: $('prompt').value }] }),
  });
  if (!response.ok) {
    $('sse-status').textContent = `HTTP ${response.status}: ${(await response.json()).error?.message}`;
    return;
  }
  const streamId = response.headers.get('x-relay-stream-id');
  $('stream-id').textContent = `stream ${streamId}`;
  const show = (id, status) => (promise) => promise.then(() => { $(status).textContent = 'done'; }, (err) => { $(status).textContent = `error: ${err.message}`; });
  await Promise.all([
    show('sse', 'sse-status')(readSse(response, (text) => { $('sse').textContent += text; })),
    show('signalr', 'signalr-status')(subscribe(streamId, key, (text) => { $('signalr').textContent += text; })),
  ]);
});
