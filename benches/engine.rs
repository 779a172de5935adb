//! Engine micro-benchmark: one send into a group fanned out to K subscribed devices, in
//! memory. Measures validation, the store append, routing, and the devices taking their
//! events (each iteration drains every queue, so none lags).
//!
//! `cargo bench --bench engine`

// criterion_group! generates an undocumented public function.
#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use kanect::{Chat, ChatConfig, MemoryStore, PasswordCost, RateLimits, Registration, Subscription, TryNext};
use std::time::{Duration, Instant};

struct Room {
    chat: Chat,
    sender: kanect::Caller,
    group: kanect::ConversationId,
    devices: Vec<Subscription>,
}

async fn room(members: usize) -> Room {
    // One sender as fast as the engine goes: far past the rate limits for people.
    let config = ChatConfig {
        password_cost: PasswordCost::INSECURE_FAST,
        device_queue: 64,
        rate_limits: RateLimits::UNLIMITED,
        ..Default::default()
    };
    let chat = Chat::builder(MemoryStore::new()).config(config).build().await.unwrap();
    let mut callers = Vec::new();
    for i in 0..members {
        let user = chat.register(Registration::new(format!("member{i}"), "bench password")).await.unwrap();
        callers.push(chat.act_as(user.id).await.unwrap());
    }
    let ids: Vec<_> = callers.iter().map(|c| c.user()).collect();
    let group = chat.create_group(&callers[0], "bench", &ids).await.unwrap().id;
    let mut devices = Vec::new();
    for caller in &callers {
        devices.push(chat.subscribe(caller).await.unwrap());
    }
    let sender = callers.swap_remove(0);
    let mut room = Room { chat, sender, group, devices };
    drain(&mut room.devices);
    room
}

fn drain(devices: &mut [Subscription]) -> usize {
    let mut taken = 0;
    for device in devices {
        while let TryNext::Ready(_) = device.try_next() {
            taken += 1;
        }
    }
    taken
}

fn send_and_fan_out(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let mut group = c.benchmark_group("send_fan_out");
    group.measurement_time(Duration::from_secs(4)).sample_size(20);
    for members in [1usize, 10, 100, 1000] {
        let mut room = runtime.block_on(room(members));
        group.throughput(Throughput::Elements(members as u64));
        group.bench_with_input(BenchmarkId::from_parameter(members), &members, |b, _| {
            let mut n = 0u64;
            b.iter_custom(|iterations| {
                let started = Instant::now();
                runtime.block_on(async {
                    for _ in 0..iterations {
                        n += 1;
                        room.chat.send(&room.sender, room.group, &format!("c{n}"), "hello room").await.unwrap();
                        drain(&mut room.devices);
                    }
                });
                started.elapsed()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, send_and_fan_out);
criterion_main!(benches);
