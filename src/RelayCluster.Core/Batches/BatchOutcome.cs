namespace RelayCluster.Core.Batches;

/// <summary>
/// The end of a batch's status machine, as the batch grain runs it:
/// <code>
/// validating ─┬─ bad file ───────────────► failed (cancelled, if a cancel came first)
///             └─ valid ─► in_progress ─► (every item ended) ─► finalizing ─► completed | expired
/// cancel: validating ─► cancelled (nothing ran)
///         in_progress | finalizing ─► cancelling ─► (every item ended) ─► cancelled
/// a task that failed MaxTaskAttempts times: cancelling ─► cancelled; any other unfinished status ─► failed
/// </code>
/// An item that could not run before the completion window closed ends as <c>batch_expired</c>; a batch with
/// any such item ends <c>expired</c>, with what did run in its output file.
/// </summary>
public static class BatchOutcome
{
    /// <summary>The state once its last item ended: finalization is queued (<c>FinalizingAt</c> set).</summary>
    public static BatchState AllEnded(BatchState state, long now) => state with
    {
        Status = state.Status == BatchStatus.Cancelling ? BatchStatus.Cancelling : BatchStatus.Finalizing,
        FinalizingAt = now,
    };

    /// <summary>Whether a batch is waiting for its finalization (and so may be finished).</summary>
    public static bool AwaitsFinish(BatchState state) => state.FinalizingAt is not null && !BatchStatus.IsFinal(state.Status);

    /// <summary>Whether a cancel moves a batch in this status to <c>cancelling</c>.</summary>
    public static bool MayCancel(string status) => status is BatchStatus.Validating or BatchStatus.InProgress or BatchStatus.Finalizing;

    /// <summary>The batch's end when its task is given up on ; a final batch is unchanged.</summary>
    public static BatchState Abandon(BatchState state, string errorsJson, long now) =>
        BatchStatus.IsFinal(state.Status) ? state
        : state.Status == BatchStatus.Cancelling ? state with { Status = BatchStatus.Cancelled, CancelledAt = now }
        : state with { Status = BatchStatus.Failed, FailedAt = now, ErrorsJson = errorsJson };

    /// <summary>The batch's final status and files once it was finalized.</summary>
    public static BatchState Finish(BatchState state, string? outputFileId, string? errorFileId, long now)
    {
        var finished = state with { OutputFileId = outputFileId, ErrorFileId = errorFileId };
        if (state.Status == BatchStatus.Cancelling)
        {
            return finished with { Status = BatchStatus.Cancelled, CancelledAt = now };
        }

        return state.ExpiredItems > 0
            ? finished with { Status = BatchStatus.Expired, ExpiredAt = now }
            : finished with { Status = BatchStatus.Completed, CompletedAt = now };
    }
}
