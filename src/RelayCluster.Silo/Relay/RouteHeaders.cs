namespace RelayCluster.Silo.Relay;

/// <summary>
/// <c>x-relay-provider</c> and <c>x-relay-attempts</c>: which provider answered and how many upstream calls it
/// took (every target tried, retries included). Written as the headers go out, when the route is known.
/// A stream committed by a heartbeat before any target answered has sent its headers already: it carries
/// neither (the usage record still has the route).
/// </summary>
internal static class RouteHeaders
{
    public static void WriteOnStart(HttpResponse response, AdmittedRequest admitted) =>
        response.OnStarting(static state =>
        {
            var (response, admitted) = ((HttpResponse, AdmittedRequest))state;
            if (admitted.IsRouted)
            {
                response.Headers["x-relay-provider"] = admitted.Target.ProviderId;
                response.Headers["x-relay-attempts"] = admitted.Attempts.ToString(System.Globalization.CultureInfo.InvariantCulture);
                response.Headers["x-relay-model"] = admitted.Target.Model;
            }

            return Task.CompletedTask;
        }, (response, admitted));
}
