// Bounded waiting, for close handlers that must always finish.

/** Races a promise against a timer so close handlers always finish. */
export function within<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<undefined>((resolve) => { timer = setTimeout(() => resolve(undefined), ms); });
    return Promise.race([p.catch(() => undefined), timeout]).finally(() => clearTimeout(timer));
}

