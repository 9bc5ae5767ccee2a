// Request and response shapes of /api/v1/projects, as validated and as shown in OpenAPI.
import { ApiProperty } from '@nestjs/swagger';
import { IsString } from 'class-validator';
import type { CloneUrls } from '../git/git-client.js';
import type { ProjectSummary } from './projects.repository.js';

export class CreateProjectDto {
  @ApiProperty({
    description: 'DNS label: 1–63 of a-z, 0-9 and -, not starting or ending with -; unique; not reserved',
    example: 'shop',
    maxLength: 63,
  })
  @IsString()
  name!: string;
}

export class GitUrlsDto {
  @ApiProperty({ example: 'http://127.0.0.1:3001/shop.git', description: 'clone URL over smart HTTP' })
  http_url!: string;

  @ApiProperty({
    type: String,
    nullable: true,
    example: 'ssh://git@127.0.0.1:2222/shop.git',
    description: 'clone URL over SSH; null when the platform serves no SSH',
  })
  ssh_url!: string | null;
}

export class ProjectDto {
  @ApiProperty({ example: '019ac5e2-7c1a-7d3e-9a51-0c2f3e4d5a6b' })
  id!: string;

  @ApiProperty({ example: 'shop' })
  name!: string;

  @ApiProperty({ example: '2026-11-28T13:37:00.000Z', format: 'date-time' })
  created_at!: string;

  @ApiProperty({ type: GitUrlsDto })
  git!: GitUrlsDto;

  @ApiProperty({ example: 'http://shop.localhost:8080/', description: 'where the application is served' })
  app_url!: string;
}

export class ProjectListDto {
  @ApiProperty({ type: [ProjectDto] })
  projects!: ProjectDto[];
}

/** The response form of a project. */
export function mapProject(row: ProjectSummary, git: CloneUrls, appUrl: string): ProjectDto {
  return { id: row.id, name: row.name, created_at: row.created_at, git, app_url: appUrl };
}
