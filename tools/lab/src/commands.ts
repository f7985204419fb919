// The commands the lab prints: each one works through the tunnel while the lab runs.
import type { LabCerts } from './certs.js';
import type { LabNode, LabPorts } from './options.js';

export interface LabCommand {
  title: string;
  command: string;
}

export function labCommands(nodes: readonly LabNode[], serverHost: string, ports: LabPorts, certs: LabCerts): LabCommand[] {
  const [a, b = a] = nodes as [LabNode, LabNode?];
  const via = (node: LabNode, port: number, listener: number): string => `--connect-to ${node.ip}:${port}:${serverHost}:${listener}`;
  const tlsFlags = `--cacert ${certs.path('ca', 'crt')} --cert ${certs.path('caller', 'crt')} --key ${certs.path('caller', 'key')}`;
  return [
    {
      title: `kubelet read-only port of ${a.name}, as a DNATed caller sees it (Host: ${a.ip}:10255)`,
      command: `curl -s ${via(a, 10255, ports.http)} http://${a.ip}:10255/stats/summary`,
    },
    { title: `the same node by name`, command: `curl -s -H 'Host: ${a.name}:10255' http://${serverHost}:${ports.http}/pods` },
    {
      title: `the exporter on port ${ports.exporter}, opened by dnat-ports-pair through the 10264 channel`,
      command: `curl -s ${via(b, ports.exporter, ports.http)} http://${b.ip}:${ports.exporter}/metrics`,
    },
    {
      title: `kubelet HTTPS API of ${b.name} with the caller certificate kube-apiserver would present`,
      command: `curl -s ${tlsFlags} ${via(b, 10250, ports.https)} https://${b.ip}:10250/stats/summary`,
    },
    {
      title: `what metrics-server scrapes from ${a.name}'s kubelet (resource metrics, Prometheus text)`,
      command: `curl -s ${tlsFlags} ${via(a, 10250, ports.https)} https://${a.ip}:10250/metrics/resource`,
    },
    {
      title: `follow container logs through the tunnel (Ctrl-C closes the stream to the kubelet)`,
      command: `curl -sN ${tlsFlags} ${via(a, 10250, ports.https)} 'https://${a.ip}:10250/containerLogs/default/demo/app?follow=true'`,
    },
    { title: `the CONNECT frontend (konnectivity style)`, command: `curl -s -p -x http://${serverHost}:${ports.connect} http://${a.ip}:10255/healthz` },
    { title: `a port nobody configured: an immediate 403 naming the key to set`, command: `curl -s -i ${via(a, 9999, ports.http)} http://${a.ip}:9999/` },
    { title: `tunnels and config, as an operator sees them`, command: `curl -s http://${serverHost}:${ports.meta}/debug/tunnels` },
  ];
}
