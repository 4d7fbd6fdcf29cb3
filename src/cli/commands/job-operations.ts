import { Command } from 'clipanion'
import { plainOperationCommand } from '../job-operation-command.js'

// The job operations that take nothing but the job's name, each one line of data: what it is
// called, its help, and what its answer line says was done.

/** `galaxy job pause JOB`. */
export const JobPauseCommand = plainOperationCommand('pause', Command.Usage({
  description: "Pause a job's update",
  details: `
    Stops an update where it is: pods that run the new version keep it, the others keep the old
    one, and no more pods move until \`galaxy job continue\`, \`rollback\` or \`cancel\`. Only a job
    that is updating can be paused.
  `,
  examples: [['Pause the update of web', 'galaxy job pause web']]
}), 'paused')

/** `galaxy job cancel JOB`. */
export const JobCancelCommand = plainOperationCommand('cancel', Command.Usage({
  description: "Cancel a job's update, leaving its pods as they are",
  details: `
    Ends an update, running or paused, without moving more pods: each pod keeps the version it
    runs, and pods made from now on get the new one. The job is running again.
  `,
  examples: [['Cancel the update of web', 'galaxy job cancel web']]
}), 'update cancelled')

/** `galaxy job rollback JOB`. */
export const JobRollbackCommand = plainOperationCommand('rollback', Command.Usage({
  description: "Roll a job's update back to the version before it",
  details: `
    Starts an update back to the previous version, step by step like any update, while the update
    runs or is paused. A job submitted only once has nothing to roll back to.
  `,
  examples: [['Roll web back', 'galaxy job rollback web']]
}), 'rolling back')

/** `galaxy job stop JOB`. */
export const JobStopCommand = plainOperationCommand('stop', Command.Usage({
  description: 'Stop every pod of a job, keeping the job',
  details: `
    Stops the job's pods; once they are gone the job is finished, and \`galaxy job scale\` or
    \`galaxy job run\` of its spec starts it again.
  `,
  examples: [['Stop web', 'galaxy job stop web']]
}), 'stopping')

/** `galaxy job remove JOB`. */
export const JobRemoveCommand = plainOperationCommand('remove', Command.Usage({
  description: 'Stop every pod of a job and delete the job',
  details: "Stops the job's pods, then deletes the job and its history once they are gone.",
  examples: [['Remove web', 'galaxy job remove web']]
}), 'being removed')
