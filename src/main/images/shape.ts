// Stored images as the Docker API shows them: GET /images/json entries and GET /images/{name}/json.
import type { ImageConfig } from './manifest.js';
import { familiarName } from '../../spec/image-reference.js';
import type { ImageRecord, ImageStore } from './store.js';

function config(store: ImageStore, im: ImageRecord): ImageConfig {
  return JSON.parse(store.readBlob(im.id).toString('utf8')) as ImageConfig;
}

function created(store: ImageStore, im: ImageRecord, c: ImageConfig): number {
  const t = c.created ? Date.parse(c.created) : NaN;
  return Math.floor((Number.isNaN(t) ? store.blobTime(im.id).getTime() : t) / 1000);
}

export function imageSummary(store: ImageStore, im: ImageRecord, containers: number): object {
  const c = config(store, im);
  const tags = store.tagsOf(im.id).map(familiarName);
  return {
    Id: im.id,
    ParentId: '',
    RepoTags: tags,
    RepoDigests: im.repoDigests.map(familiarName),
    Created: created(store, im, c),
    Size: store.size(im),
    SharedSize: -1,
    VirtualSize: store.size(im),
    Labels: c.config?.Labels ?? {},
    Containers: containers,
  };
}

export function imageInspect(store: ImageStore, im: ImageRecord): object {
  const c = config(store, im);
  const cc = c.config ?? {};
  return {
    Id: im.id,
    RepoTags: store.tagsOf(im.id).map(familiarName),
    RepoDigests: im.repoDigests.map(familiarName),
    Parent: '',
    Comment: '',
    Created: c.created ?? new Date(created(store, im, c) * 1000).toISOString(),
    Author: c.author ?? '',
    Config: {
      User: cc.User ?? '',
      Env: cc.Env ?? null,
      Cmd: cc.Cmd ?? null,
      Entrypoint: cc.Entrypoint ?? null,
      WorkingDir: cc.WorkingDir ?? '',
      Labels: cc.Labels ?? null,
      StopSignal: cc.StopSignal,
      ExposedPorts: cc.ExposedPorts ?? null,
      Volumes: cc.Volumes ?? null,
      ...(cc.Healthcheck !== undefined && cc.Healthcheck !== null ? { Healthcheck: cc.Healthcheck } : {}),
    },
    Architecture: c.architecture ?? 'amd64',
    Os: c.os ?? 'linux',
    Size: store.size(im),
    VirtualSize: store.size(im),
    GraphDriver: { Name: 'overlay2', Data: { LowerDir: im.layers.map((l) => store.layerDir(l.chainId)).reverse().join(':') } },
    RootFS: { Type: 'layers', Layers: im.layers.map((l) => l.diffId) },
    Metadata: { LastTagTime: im.stored },
  };
}
