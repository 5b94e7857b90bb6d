// The side panel: the researcher's requests with their state, the automatic verdicts per file, the
// checkers' decisions and shared comments, and "Submit new version" for a returned request's files.
import { Dialog, showDialog, showErrorMessage } from '@jupyterlab/apputils';
import { fileUploadIcon } from '@jupyterlab/ui-components';
import { Widget } from '@lumino/widgets';

import { IFileView, IRequestView, listRequests, resubmit, submitNewVersion } from './api';
import { VersionForm } from './forms';

const POLL_MS = 4000;
const MAX_POLLS = 75; // five minutes of automatic refreshes, then the Refresh button

const STATES: Record<string, string> = {
  draft: 'Draft',
  submitted: 'With the checkers',
  reviewed: 'With the checkers',
  approved: 'Approved',
  released: 'Released: download it in the egress review site',
  returned: 'Returned to you: see the comments',
  rejected: 'Rejected',
  withdrawn: 'Withdrawn'
};

function el<K extends keyof HTMLElementTagNameMap>(tag: K, cls = '', text = ''): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (cls) {
    node.className = cls;
  }
  if (text) {
    node.textContent = text;
  }
  return node;
}

export class ReleasePanel extends Widget {
  constructor() {
    super();
    this.id = 'sandkasse-release-panel';
    this.title.icon = fileUploadIcon;
    this.title.caption = 'Release requests';
    this.addClass('sk-panel');
    const header = el('div', 'sk-header');
    header.append(el('h2', '', 'Release requests'));
    const refresh = el('button', 'jp-mod-styled sk-refresh', 'Refresh');
    refresh.onclick = () => void this.refresh();
    header.append(refresh);
    this.status = el('div', 'sk-status');
    this.list = el('div', 'sk-requests');
    this.node.append(header, this.status, this.list);
  }

  /** Fetch and draw; keeps refreshing while a file's automatic checks are still running. */
  async refresh(): Promise<void> {
    try {
      this.requests = await listRequests();
      this.status.textContent = '';
    } catch (err) {
      this.status.textContent = `Cannot reach the egress service: ${(err as Error).message}`;
      return;
    }
    this.draw();
    const pending = this.requests.some(r => r.files.some(f => !f.withdrawn && f.verdict === 'pending'));
    if (pending && this.isVisible) {
      this.schedule();
    } else {
      this.polls = 0;
    }
  }

  protected onAfterShow(): void {
    void this.refresh();
  }

  protected onBeforeHide(): void {
    window.clearTimeout(this.timer);
    this.polls = 0;
  }

  private schedule(): void {
    window.clearTimeout(this.timer);
    if (this.polls++ < MAX_POLLS) {
      this.timer = window.setTimeout(() => void this.refresh(), POLL_MS);
    }
  }

  private draw(): void {
    this.list.replaceChildren();
    if (!this.requests.length) {
      this.list.append(el('p', 'sk-empty', 'No release requests yet. Right-click a file and choose "Request release…".'));
    }
    for (const r of this.requests) {
      this.list.append(this.card(r));
    }
  }

  private card(r: IRequestView): HTMLElement {
    const card = el('section', 'sk-request');
    card.dataset.requestId = r.id;
    card.dataset.state = r.state;
    const head = el('div', 'sk-request-head');
    head.append(el('strong', 'sk-title', r.title || 'Untitled request'));
    head.append(el('span', `sk-state sk-state-${r.state}`, STATES[r.state] || r.state));
    card.append(head);
    card.append(el('div', 'sk-meta', `${r.created_at.slice(0, 16).replace('T', ' ')} · ${r.id}`));
    const files = el('div', 'sk-files');
    for (const f of r.files) {
      files.append(this.fileBlock(r, f));
    }
    card.append(files);
    if (r.comments.length) {
      const comments = el('div', 'sk-comments');
      comments.append(el('h3', '', 'Comments'));
      for (const c of r.comments) {
        const p = el('p', `sk-comment sk-comment-${c.from}`);
        p.append(el('b', '', `${c.from === 'checker' ? 'Output checker' : 'You'}${c.file ? ` on ${c.file}` : ''}: `));
        p.append(document.createTextNode(c.text));
        comments.append(p);
      }
      card.append(comments);
    }
    if (r.can_resubmit) {
      const again = el('button', 'jp-mod-styled jp-mod-accept sk-resubmit', 'Resubmit for review');
      again.onclick = () => void this.act(() => resubmit(r.id));
      card.append(again);
    }
    return card;
  }

  private fileBlock(r: IRequestView, f: IFileView): HTMLElement {
    const block = el('div', 'sk-file');
    block.dataset.fileId = f.id;
    block.dataset.fileName = f.name;
    const name = el('div', 'sk-file-name', f.name);
    if (f.kind === 'supporting') {
      name.append(el('small', '', ' (supporting, never released)'));
    }
    if (f.version > 1) {
      name.append(el('small', '', ` v${f.version}`));
    }
    block.append(name);
    const checks = el('div', 'sk-line', 'Automatic checks: ');
    checks.append(el('span', `sk-verdict sk-verdict-${f.verdict}`, f.withdrawn ? 'withdrawn' : f.verdict));
    block.append(checks);
    if (f.messages.length) {
      const ul = el('ul', 'sk-messages');
      for (const m of f.messages) {
        ul.append(el('li', '', m));
      }
      block.append(ul);
    }
    if (f.kind === 'output') {
      const decision = el('div', 'sk-line', 'Checkers: ');
      decision.append(el('span', `sk-decision sk-decision-${f.decision}`, f.decision.replace(/_/g, ' ')));
      block.append(decision);
    }
    if (r.can_resubmit && !f.withdrawn) {
      const button = el('button', 'jp-mod-styled sk-new-version', 'Submit new version…');
      button.onclick = () => void this.newVersion(r, f);
      block.append(button);
    }
    return block;
  }

  private async newVersion(r: IRequestView, f: IFileView): Promise<void> {
    const result = await showDialog({
      title: `New version of ${f.name}`,
      body: new VersionForm(f.name),
      buttons: [Dialog.cancelButton(), Dialog.okButton({ label: 'Submit new version' })]
    });
    if (!result.button.accept || !result.value) {
      return;
    }
    const { path, resubmit: again } = result.value;
    await this.act(() => submitNewVersion(r.id, f.id, path, again));
  }

  private async act(work: () => Promise<IRequestView>): Promise<void> {
    try {
      await work();
    } catch (err) {
      await showErrorMessage('Release request', (err as Error).message);
    }
    await this.refresh();
  }

  private requests: IRequestView[] = [];
  private status: HTMLElement;
  private list: HTMLElement;
  private timer = 0;
  private polls = 0;
}
