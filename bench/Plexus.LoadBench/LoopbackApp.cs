using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;

namespace Plexus.LoadBench;

/// <summary>Kestrel on 127.0.0.1 at a free port, set up as PlexusServer sets it up (empty builder, Kestrel core, routing).</summary>
internal static class LoopbackApp
{
    public static async Task<(WebApplication App, Uri Address)> StartAsync(string name, Action<WebApplication> map, bool unlimitedBody = false)
    {
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions { ApplicationName = name });
        builder.Services.AddRoutingCore();
        builder.WebHost.UseKestrelCore().ConfigureKestrel(kestrel =>
        {
            kestrel.Listen(IPAddress.Loopback, 0);
            kestrel.AddServerHeader = false;
            if (unlimitedBody)
            {
                kestrel.Limits.MaxRequestBodySize = null;
            }
        });
        var app = builder.Build();
        app.UseRouting();
        map(app);
        await app.StartAsync();
        string bound = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return (app, new Uri(bound));
    }
}
