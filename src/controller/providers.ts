/**
 * `/providers/proxies…` in mihomo's shapes (what yacd and metacubexd read): every proxy
 * provider with its proxies, vehicle, update time and subscription usage, plus the `default`
 * provider of the config's own proxies; updating one now, and its health checks.
 */
import type { Outbound } from '../adapter/outbound.js';
import { describeError } from '../common/errors.js';
import type { ProxyProvider } from '../route/proxy-provider/provider.js';
import type { Control } from './control.js';
import { delayTest } from './delay.js';
import { ApiError, noContent, notFound, type Reply } from './reply.js';
import { goTime, proxyView, vehicleNames, type Json } from './views.js';

/** One provider as GET /providers/proxies/:name shows it. */
function providerView(box: Control, provider: ProxyProvider): Json {
  const { name, vehicle, healthCheck } = provider.config;
  const view: { [key: string]: Json } = {
    name,
    type: 'Proxy',
    vehicleType: vehicleNames[vehicle],
    proxies: box.proxyProviders.of(name).map((outbound) => proxyView(outbound, box.delays)),
    testUrl: healthCheck.url,
    expectedStatus: healthCheck.expectedStatus,
    updatedAt: goTime(provider.updatedAt),
  };
  if (provider.subscriptionInfo) view.subscriptionInfo = { ...provider.subscriptionInfo };
  return view;
}

/** mihomo's `default` provider: the config's own proxies. */
function defaultProvider(box: Control): Json {
  const proxies = box.config.proxies.map((p) => proxyView(box.outbounds.get(p.name)!, box.delays));
  return { name: 'default', type: 'Proxy', vehicleType: 'Compatible', proxies, testUrl: '', expectedStatus: '*', updatedAt: '0001-01-01T00:00:00Z' };
}

/** Answers `METHOD /providers/proxies/<rest…>`. */
export async function proxyProviderRequest(box: Control, method: string, rest: string[], url: URL): Promise<Reply> {
  if (rest.length === 0 && method === 'GET') {
    const providers: Record<string, Json> = { default: defaultProvider(box) };
    for (const provider of box.proxyProviders.providers) providers[provider.name] = providerView(box, provider);
    return { status: 200, body: { providers } };
  }
  const [name, proxy, action] = rest;
  const provider = name === undefined ? undefined : box.proxyProviders.provider(name);
  if (!provider || (rest.length > 1 && method !== 'GET')) throw notFound();
  if (rest.length === 1 && method === 'GET') return { status: 200, body: providerView(box, provider) };
  if (rest.length === 1 && method === 'PUT') {
    try {
      await box.refreshProvider(provider);
    } catch (error) {
      throw new ApiError(503, describeError(error));
    }
    return noContent;
  }
  if (rest.length === 2 && proxy === 'healthcheck') {
    await box.proxyProviders.healthOf(provider.name)?.checkAll();
    return noContent;
  }
  if (rest.length === 2) return { status: 200, body: proxyView(memberOf(box, provider, proxy!), box.delays) };
  if (rest.length === 3 && action === 'healthcheck') return delayTest(box, memberOf(box, provider, proxy!), url);
  throw notFound();
}

function memberOf(box: Control, provider: ProxyProvider, name: string): Outbound {
  const outbound = box.proxyProviders.of(provider.name).find((o) => o.name === name);
  if (!outbound) throw notFound();
  return outbound;
}
