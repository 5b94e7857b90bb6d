// The notebook server's "Request release" handlers (hub/request_release). The browser never talks to
// the egress service and never holds its token: every call goes to the Jupyter server, with
// Jupyter's own login and XSRF header (ServerConnection adds both).
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

export interface IFileView {
  id: string;
  name: string;
  kind: 'output' | 'supporting';
  withdrawn: boolean;
  verdict: string;
  version: number;
  decision: string;
  messages: string[];
}

export interface ICommentView {
  from: 'checker' | 'you';
  file: string | null;
  text: string;
  at: string;
}

export interface IRequestView {
  id: string;
  title: string;
  state: string;
  owner: string;
  turn: number;
  created_at: string;
  can_resubmit: boolean;
  files: IFileView[];
  comments: ICommentView[];
}

export interface INewRequest {
  outputs: string[];
  supporting: string[];
  context: string;
  controls: string;
  title: string;
}

async function call<T>(path: string, init: RequestInit = {}): Promise<T> {
  const settings = ServerConnection.makeSettings();
  const url = URLExt.join(settings.baseUrl, 'sandkasse', 'release', path);
  const response = await ServerConnection.makeRequest(url, init, settings);
  let body: any = {};
  try {
    body = await response.json();
  } catch {
    body = {};
  }
  if (!response.ok) {
    throw new Error(body.message || `${response.status} ${response.statusText}`);
  }
  return body as T;
}

function post<T>(path: string, body: unknown): Promise<T> {
  return call<T>(path, { method: 'POST', body: JSON.stringify(body) });
}

export async function listRequests(): Promise<IRequestView[]> {
  return (await call<{ requests: IRequestView[] }>('requests')).requests;
}

export async function requestRelease(req: INewRequest): Promise<IRequestView> {
  return (await post<{ request: IRequestView }>('requests', req)).request;
}

export async function submitNewVersion(
  requestId: string,
  fileId: string,
  path: string,
  resubmit: boolean
): Promise<IRequestView> {
  return (
    await post<{ request: IRequestView }>(
      `requests/${encodeURIComponent(requestId)}/files/${encodeURIComponent(fileId)}/versions`,
      { path, resubmit }
    )
  ).request;
}

export async function resubmit(requestId: string): Promise<IRequestView> {
  return (await post<{ request: IRequestView }>(`requests/${encodeURIComponent(requestId)}/resubmit`, {})).request;
}
