namespace RelayCluster.Tests.Infrastructure;

/// <summary>Waits for a condition by polling it until a deadline: a signal to wait on, never a fixed sleep.</summary>
public static class Eventually
{
    /// <summary>
    /// Polls <paramref name="probe"/> until <paramref name="done"/> holds and returns that value, or returns the
    /// last value at the deadline (the caller's assertion then says what was wrong). A probe that throws an
    /// HttpRequestException (a 5xx while a silo reconnects) counts as not done yet.
    /// </summary>
    public static async Task<T?> WaitAsync<T>(Func<Task<T>> probe, Func<T, bool> done, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(20));
        T? last = default;
        while (true)
        {
            try
            {
                last = await probe();
                if (done(last))
                {
                    return last;
                }
            }
            catch (HttpRequestException) when (DateTime.UtcNow < deadline)
            {
            }

            if (DateTime.UtcNow >= deadline)
            {
                return last;
            }

            await Task.Delay(100);
        }
    }
}
