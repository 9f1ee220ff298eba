using System.Runtime.CompilerServices;
using System.Text.Json;
using Microsoft.AspNetCore.SignalR;

namespace RelayCluster.Silo.Streams;

/// <summary>
/// Logs what goes wrong in a hub method, at the level it deserves. SignalR logs every exception of a hub method, or of
/// the stream it returned, at Error with a stack trace ("Failed to invoke hub method", "Failed while sending stream
/// items"), including a <see cref="HubException"/>: the exception a hub throws on purpose to refuse a client (a token for
/// another stream), whose message SignalR sends the client as the invocation's error. Any client could fill the error
/// log that way. So the dispatcher's own log is held above Error (see <see cref="Hosting.RelayLogging"/>) and this
/// filter logs instead: a refusal at Debug, a cancelled stream not at all, anything else at Error as before. The client
/// gets the same error as ever: the exception is rethrown to SignalR.
/// </summary>
internal sealed partial class HubFailures(ILogger<HubFailures> logger) : IHubFilter
{
    /// <summary>SignalR's dispatcher, whose Error entries this filter takes over.</summary>
    public const string DispatcherCategory = "Microsoft.AspNetCore.SignalR.Internal.DefaultHubDispatcher";

    public async ValueTask<object?> InvokeMethodAsync(HubInvocationContext invocationContext, Func<HubInvocationContext, ValueTask<object?>> next)
    {
        var method = invocationContext.HubMethodName;
        object? result;
        try
        {
            result = await next(invocationContext);
        }
        catch (Exception ex)
        {
            Record(method, ex, CancellationToken.None);
            throw;
        }

        // The streams the relay's hubs return (HubMethodsAreWatched in the tests keeps this list complete).
        return result switch
        {
            IAsyncEnumerable<StreamMessage> messages => Watch(messages, method),
            IAsyncEnumerable<StreamMessage[]> batches => Watch(batches, method),
            IAsyncEnumerable<JsonElement> chunks => Watch(chunks, method),
            _ => result,
        };
    }

    /// <summary>The stream types <see cref="InvokeMethodAsync"/> watches.</summary>
    internal static readonly Type[] WatchedStreams = [typeof(IAsyncEnumerable<StreamMessage>), typeof(IAsyncEnumerable<StreamMessage[]>), typeof(IAsyncEnumerable<JsonElement>)];

    private async IAsyncEnumerable<T> Watch<T>(IAsyncEnumerable<T> items, string method, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await using var enumerator = items.GetAsyncEnumerator(cancellationToken);
        while (true)
        {
            try
            {
                if (!await enumerator.MoveNextAsync())
                {
                    break;
                }
            }
            catch (Exception ex)
            {
                Record(method, ex, cancellationToken);
                throw;
            }

            yield return enumerator.Current;
        }
    }

    private void Record(string method, Exception exception, CancellationToken cancellationToken)
    {
        switch (exception)
        {
            case HubException refusal:
                Log.Refused(logger, method, refusal.Message);
                break;
            case OperationCanceledException when cancellationToken.IsCancellationRequested:
                break; // the client cancelled the stream or left: an ordinary ending
            default:
                Log.Failed(logger, method, exception);
                break;
        }
    }

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Debug, Message = "Hub method {Method} refused the client: {Reason}")]
        public static partial void Refused(ILogger logger, string method, string reason);

        [LoggerMessage(Level = LogLevel.Error, Message = "Hub method {Method} failed")]
        public static partial void Failed(ILogger logger, string method, Exception exception);
    }
}
