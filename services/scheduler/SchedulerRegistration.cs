using Boxes.Scheduler.Persistence;
using Boxes.Scheduler.Placement;
using Boxes.Scheduler.StateMachines;
using Boxes.Scheduler.Timers;
using Boxes.ServiceDefaults;
using MassTransit;
using MassTransit.Configuration;
using MassTransit.Saga;
using Quartz;

namespace Boxes.Scheduler;

public static class SchedulerRegistration
{
    /// <summary>The box saga on PostgreSQL, placement from heartbeats, Quartz timers, and the event relay.</summary>
    public static IHostApplicationBuilder AddScheduler(this IHostApplicationBuilder builder)
    {
        builder.Services.Configure<SchedulerOptions>(builder.Configuration.GetSection("Scheduler"));
        var options = builder.Configuration.GetSection("Scheduler").Get<SchedulerOptions>() ?? new SchedulerOptions();
        builder.Services.AddMigrations("scheduler", typeof(SchedulerRegistration).Assembly);

        builder.Services.AddSingleton<ISagaConsumeContextFactory<SchedulerUnitOfWork, BoxState>, SagaConsumeContextFactory<SchedulerUnitOfWork, BoxState>>();
        builder.Services.RegisterSagaRepository<BoxState, SchedulerUnitOfWork, SagaConsumeContextFactory<SchedulerUnitOfWork, BoxState>, BoxSagaRepositoryContextFactory>();
        builder.AddBoxesBus(x =>
        {
            x.AddSagaStateMachine<BoxStateMachine, BoxState, BoxStateDefinition>();
            x.AddConsumer<WorkerHeartbeatConsumer>();
        });
        builder.AddEventRelay();

        var connectionString = builder.Configuration.GetConnectionString("Boxes")!;
        builder.Services.AddQuartz(q =>
        {
            q.ConfigureScheduler(o =>
            {
                o.InstanceName = "boxes-scheduler";
                o.GenerateInstanceId = true; // clustered: every scheduler process is its own instance
            });
            q.UsePersistentStore(store =>
            {
                store.UsePostgres(connectionString);
                store.UseClustering(c => c.CheckinInterval = TimeSpan.FromSeconds(5));
                store.UseSystemTextJsonSerializer();
                store.ConfigureStore(o =>
                {
                    o.TablePrefix = "quartz.qrtz_";
                    o.StoreJobDataAsStrings = true;
                    o.AcceptEnlistedTransactions = true;
                    o.SchemaProvisioning = SchemaProvisioning.CreateIfMissing;
                });
            });
            q.AddJob<LostWorkerSweepJob>(j => j.WithIdentity(LostWorkerSweepJob.Key).StoreDurably());
            q.AddTrigger(t => t.ForJob(LostWorkerSweepJob.Key).WithIdentity("lost-worker-sweep", "scheduler")
                .WithSimpleSchedule(s => s.WithInterval(options.LostWorkerSweepInterval).RepeatForever()));
            q.AddJob<BoxDeadlineSweepJob>(j => j.WithIdentity(BoxDeadlineSweepJob.Key).StoreDurably());
            q.AddTrigger(t => t.ForJob(BoxDeadlineSweepJob.Key).WithIdentity("box-deadline-sweep", "scheduler")
                .WithSimpleSchedule(s => s.WithInterval(options.DeadlineSweepInterval).RepeatForever()));
        });
        builder.Services.AddQuartzHostedService(o => o.WaitForJobsToComplete = false);
        return builder;
    }
}
