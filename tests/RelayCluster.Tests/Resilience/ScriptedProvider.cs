using System.IO.Pipelines;
using System.Text.Json.Nodes;
using RelayCluster.Core.Wire;
using RelayCluster.Upstreams;

namespace RelayCluster.Tests.Resilience;

/// <summary>
/// A provider that answers each call with the next scripted step, records when each call came (on the
/// fake clock) and whether each response was disposed (which ends a real upstream call).
/// </summary>
internal sealed class ScriptedProvider(TimeProvider clock) : IUpstreamProvider
{
    private readonly Queue<Func<CancellationToken, ValueTask<UpstreamResponse>>> _steps = new();
    private readonly List<DateTimeOffset> _calls = [];
    private readonly List<Tracked> _responses = [];

    public static UpstreamRequest Request(bool stream = false) => new(
        RelayOperation.ChatCompletions,
        new JsonObject { ["model"] = "m", ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = "hi" }) },
        stream);

    public string Id => "scripted";

    public IReadOnlyList<DateTimeOffset> Calls
    {
        get
        {
            lock (_calls)
            {
                return [.. _calls];
            }
        }
    }

    /// <summary>Each response handed out, in order, with whether it was disposed.</summary>
    public IReadOnlyList<Tracked> Responses
    {
        get
        {
            lock (_responses)
            {
                return [.. _responses];
            }
        }
    }

    /// <summary>Tokens of calls that were left hanging, to check they were cancelled.</summary>
    public List<CancellationToken> HangingTokens { get; } = [];

    public ScriptedProvider Status(int status, TimeSpan? retryAfter = null, bool? shouldRetry = null, TimeSpan latency = default)
    {
        _steps.Enqueue(_ =>
        {
            if (latency > TimeSpan.Zero && clock is FakeClock fake)
            {
                fake.Advance(latency); // the upstream took this long to answer
            }

            return ValueTask.FromResult(Track(new UpstreamResponse(status, new MemoryStream("{}"u8.ToArray()), retryAfter, null) { ShouldRetry = shouldRetry }));
        });
        return this;
    }

    public ScriptedProvider Body(Stream body)
    {
        _steps.Enqueue(_ => ValueTask.FromResult(Track(new UpstreamResponse(200, body, null, null))));
        return this;
    }

    public ScriptedProvider Throw(Exception exception)
    {
        _steps.Enqueue(_ => ValueTask.FromException<UpstreamResponse>(exception));
        return this;
    }

    /// <summary>Never answers: the call waits until its token is cancelled.</summary>
    public ScriptedProvider Hang()
    {
        _steps.Enqueue(async token =>
        {
            lock (HangingTokens)
            {
                HangingTokens.Add(token);
            }

            await Task.Delay(Timeout.Infinite, token);
            throw new InvalidOperationException("unreachable");
        });
        return this;
    }

    public ValueTask<UpstreamResponse> SendAsync(UpstreamRequest request, CancellationToken cancellationToken)
    {
        Func<CancellationToken, ValueTask<UpstreamResponse>> step;
        lock (_calls)
        {
            _calls.Add(clock.GetUtcNow());
            step = _steps.Dequeue();
        }

        return step(cancellationToken);
    }

    /// <summary>A pipe whose writer the test controls: bytes arrive when the test says so.</summary>
    public static (Stream Body, PipeWriter Writer) Trickle()
    {
        var pipe = new Pipe();
        return (pipe.Reader.AsStream(), pipe.Writer);
    }

    private UpstreamResponse Track(UpstreamResponse response)
    {
        var tracked = new Tracked(response);
        lock (_responses)
        {
            _responses.Add(tracked);
        }

        return new UpstreamResponse(response.StatusCode, response.Body, response.RetryAfter, tracked) { ShouldRetry = response.ShouldRetry };
    }

    internal sealed class Tracked(UpstreamResponse response) : IDisposable
    {
        public int Status => response.StatusCode;

        public bool Disposed { get; private set; }

        public void Dispose() => Disposed = true;
    }
}
